//! The journal's schema version and its migrations (`migrations/*.sql`, applied in
//! order by a writer; a reader reads whatever version it finds).

use super::*;

/// Ordered migrations; index + 1 is the schema version they bring the database to.
pub(super) const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_init.sql",
        include_str!("../../../migrations/0001_init.sql"),
    ),
    (
        "0002_integrity.sql",
        include_str!("../../../migrations/0002_integrity.sql"),
    ),
    (
        "0003_snapshots.sql",
        include_str!("../../../migrations/0003_snapshots.sql"),
    ),
    (
        "0004_read_index.sql",
        include_str!("../../../migrations/0004_read_index.sql"),
    ),
];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

impl Journal {
    pub(super) fn check_version(&mut self, create: bool, writer: bool) -> Result<()> {
        let found: u32 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| sqlerr(&self.path, e))?;
        if found > SCHEMA_VERSION {
            return Err(JournalError::TooNew {
                path: self.path.clone(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found == 0 && !create {
            // Not (yet) a journal: refuse rather than silently format it.
            return Err(JournalError::NotInitialized {
                path: self.path.clone(),
            });
        }
        // Only a writer upgrades; a reader (`open_read_only`) reads the schema it finds.
        if found < SCHEMA_VERSION && writer {
            self.migrate(found)?;
            self.version = SCHEMA_VERSION;
        } else {
            self.version = found;
        }
        Ok(())
    }

    fn migrate(&mut self, from: u32) -> Result<()> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(|e| sqlerr(&path, e))?;
        for (i, (_name, sql)) in MIGRATIONS.iter().enumerate().skip(from as usize) {
            tx.execute_batch(sql).map_err(|e| sqlerr(&path, e))?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
                .map_err(|e| sqlerr(&path, e))?;
        }
        tx.commit().map_err(|e| sqlerr(&path, e))
    }
}
