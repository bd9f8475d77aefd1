//! BLAKE3 of many short messages at once: the fold's chain check.
//!
//! `blake3::hash` of one event's chain message (~400 bytes: 6 blocks of one chunk)
//! compresses its blocks one after another. The SIMD kernels BLAKE3 uses for the chunks
//! of one long input (`hash_many`: 8 inputs side by side with AVX2) apply just as well to
//! the chunks of different messages: messages with the same number of full blocks before
//! their last one are compressed together up to that block, and each last block (whose
//! length differs) is compressed alone with the chunk-end and root flags. The result is
//! exactly `blake3::hash` of each message (the test below checks every length from 0 to
//! 2,100 bytes against it); messages longer than one chunk (1,024 bytes) are hashed with
//! `blake3::hash` itself.
//!
//! `blake3::platform` is the crate's own dispatch layer, public but outside its semver
//! guarantees, so the workspace pins blake3 to an exact version; the test fails if an
//! upgrade changes what it computes.

use blake3::platform::{le_bytes_from_words_32, words_from_le_bytes_32, Platform};
use blake3::IncrementCounter;

const IV: [u32; 8] = [
    0x6A09_E667,
    0xBB67_AE85,
    0x3C6E_F372,
    0xA54F_F53A,
    0x510E_527F,
    0x9B05_688C,
    0x1F83_D9AB,
    0x5BE0_CD19,
];
const CHUNK_START: u8 = 1;
const CHUNK_END: u8 = 2;
const ROOT: u8 = 8;
const BLOCK: usize = 64;
const CHUNK: usize = 1024;
/// Messages compressed in one `hash_many` call (AVX-512's 16 lanes at most).
const LANES: usize = 16;

/// Messages appended into one buffer, then hashed together; buffers are reused.
pub(crate) struct HashMany {
    platform: Platform,
    buf: Vec<u8>,
    ends: Vec<usize>,
    /// Message indices by their number of full blocks before the last (1..=15).
    groups: Vec<Vec<u32>>,
    out: Vec<[u8; 32]>,
}

impl HashMany {
    pub(crate) fn new() -> HashMany {
        HashMany {
            platform: Platform::detect(),
            buf: Vec::new(),
            ends: Vec::new(),
            groups: vec![Vec::new(); CHUNK / BLOCK],
            out: Vec::new(),
        }
    }

    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }

    /// Append the next message: `write` extends the buffer with its bytes.
    pub(crate) fn push(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        write(&mut self.buf);
        self.ends.push(self.buf.len());
    }

    fn message(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.buf[start..self.ends[i]]
    }

    /// The hashes of the messages pushed since the last `clear`, in order.
    pub(crate) fn hashes(&mut self) -> &[[u8; 32]] {
        let n = self.ends.len();
        self.out.clear();
        self.out.resize(n, [0; 32]);
        for g in &mut self.groups {
            g.clear();
        }
        for i in 0..n {
            let len = self.message(i).len();
            if len == 0 || len > CHUNK {
                self.out[i] = *blake3::hash(self.message(i)).as_bytes();
            } else {
                self.groups[(len - 1) / BLOCK].push(i as u32);
            }
        }
        let groups = std::mem::take(&mut self.groups);
        for (k, group) in groups.iter().enumerate() {
            for lanes in group.chunks(LANES) {
                self.hash_group(k, lanes);
            }
        }
        self.groups = groups;
        &self.out
    }

    /// Messages `lanes`, each with `k` full blocks before its last: the `k` blocks
    /// together, then each last block alone.
    fn hash_group(&mut self, k: usize, lanes: &[u32]) {
        let mut cvs = [[0u8; 32]; LANES];
        let together = match k {
            0 => true,
            1 => self.prefix::<64>(lanes, &mut cvs),
            2 => self.prefix::<128>(lanes, &mut cvs),
            3 => self.prefix::<192>(lanes, &mut cvs),
            4 => self.prefix::<256>(lanes, &mut cvs),
            5 => self.prefix::<320>(lanes, &mut cvs),
            6 => self.prefix::<384>(lanes, &mut cvs),
            7 => self.prefix::<448>(lanes, &mut cvs),
            8 => self.prefix::<512>(lanes, &mut cvs),
            9 => self.prefix::<576>(lanes, &mut cvs),
            10 => self.prefix::<640>(lanes, &mut cvs),
            11 => self.prefix::<704>(lanes, &mut cvs),
            12 => self.prefix::<768>(lanes, &mut cvs),
            13 => self.prefix::<832>(lanes, &mut cvs),
            14 => self.prefix::<896>(lanes, &mut cvs),
            15 => self.prefix::<960>(lanes, &mut cvs),
            _ => false,
        };
        for (lane, &i) in lanes.iter().enumerate() {
            let i = i as usize;
            let m = self.message(i);
            if !together {
                self.out[i] = *blake3::hash(m).as_bytes();
                continue;
            }
            let mut cv = match k {
                0 => IV,
                _ => words_from_le_bytes_32(&cvs[lane]),
            };
            let last = &m[k * BLOCK..];
            let mut block = [0u8; BLOCK];
            block[..last.len()].copy_from_slice(last);
            let start = if k == 0 { CHUNK_START } else { 0 };
            self.platform.compress_in_place(
                &mut cv,
                &block,
                last.len() as u8,
                0,
                start | CHUNK_END | ROOT,
            );
            self.out[i] = le_bytes_from_words_32(&cv);
        }
    }

    /// The chaining values after the first `N` bytes (`N / 64` blocks) of each message
    /// of `lanes`, into `cvs`; false (nothing computed) if a message is shorter.
    fn prefix<const N: usize>(&self, lanes: &[u32], cvs: &mut [[u8; 32]; LANES]) -> bool {
        let Some(first) = lanes.first() else {
            return true;
        };
        let Some(first) = self.message(*first as usize).first_chunk::<N>() else {
            return false;
        };
        let mut inputs = [first; LANES];
        for (slot, &i) in inputs.iter_mut().zip(lanes) {
            match self.message(i as usize).first_chunk::<N>() {
                Some(m) => *slot = m,
                None => return false,
            }
        }
        let mut out = [0u8; 32 * LANES];
        self.platform.hash_many(
            &inputs[..lanes.len()],
            &IV,
            0,
            IncrementCounter::No,
            0,
            CHUNK_START,
            0,
            &mut out[..32 * lanes.len()],
        );
        for (cv, bytes) in cvs.iter_mut().zip(out.chunks_exact(32)) {
            cv.copy_from_slice(bytes);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::HashMany;

    #[test]
    fn every_length_hashes_as_blake3_does() {
        let data: Vec<u8> = (0..2200u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut many = HashMany::new();
        // In one batch (lengths interleaved, so groups and lanes mix), twice (buffers
        // reused), and one message at a time.
        for round in 0..2 {
            many.clear();
            let lens: Vec<usize> = (0..=2100).map(|i| (i * 7 + round) % 2101).collect();
            for &l in &lens {
                many.push(|b| b.extend_from_slice(&data[..l]));
            }
            let got = many.hashes().to_vec();
            for (&l, h) in lens.iter().zip(&got) {
                assert_eq!(h, blake3::hash(&data[..l]).as_bytes(), "length {l}");
            }
        }
        for l in [0, 1, 63, 64, 65, 128, 129, 1023, 1024, 1025] {
            many.clear();
            many.push(|b| b.extend_from_slice(&data[l / 2..l / 2 + l]));
            assert_eq!(
                many.hashes()[0],
                *blake3::hash(&data[l / 2..l / 2 + l]).as_bytes(),
                "length {l} alone"
            );
        }
    }
}
