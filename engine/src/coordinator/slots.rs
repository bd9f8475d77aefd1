//! The set of slots not yet dispatched, one bit per schedule slot.
//!
//! A `BTreeSet<u64>` of a 1,000,000-slot schedule held ~18 MB; this holds 125 KB. Every
//! member is at or after the commit frontier, and dispatch only looks a bounded
//! distance past it, so iteration starts at a given index and skips empty words.

#[derive(Debug, Clone, Default)]
pub(super) struct SlotSet {
    words: Vec<u64>,
}

impl SlotSet {
    /// The slots `from..to`.
    pub(crate) fn range_full(from: u64, to: u64) -> SlotSet {
        let mut s = SlotSet {
            words: vec![0; to.div_ceil(64) as usize],
        };
        for i in from..to {
            s.insert(i);
        }
        s
    }

    fn at(i: u64) -> (usize, u64) {
        ((i / 64) as usize, 1u64 << (i % 64))
    }

    /// Adds `i`; returns whether it was absent. Grows as needed.
    pub(crate) fn insert(&mut self, i: u64) -> bool {
        let (w, bit) = Self::at(i);
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
        }
        let fresh = self.words[w] & bit == 0;
        self.words[w] |= bit;
        fresh
    }

    /// Removes `i`; returns whether it was present.
    pub(crate) fn remove(&mut self, i: u64) -> bool {
        let (w, bit) = Self::at(i);
        let Some(word) = self.words.get_mut(w) else {
            return false;
        };
        let present = *word & bit != 0;
        *word &= !bit;
        present
    }

    #[cfg(test)]
    pub(crate) fn contains(&self, i: u64) -> bool {
        let (w, bit) = Self::at(i);
        self.words.get(w).is_some_and(|word| word & bit != 0)
    }

    /// Members in `from..to`, ascending.
    pub(crate) fn range(&self, from: u64, to: u64) -> impl Iterator<Item = u64> + '_ {
        let first = (from / 64) as usize;
        let last = (to.div_ceil(64) as usize).min(self.words.len());
        (first..last.max(first))
            .filter(|&w| self.words[w] != 0)
            .flat_map(move |w| {
                let mut word = self.words[w];
                std::iter::from_fn(move || {
                    if word == 0 {
                        return None;
                    }
                    let b = word.trailing_zeros() as u64;
                    word &= word - 1;
                    Some(w as u64 * 64 + b)
                })
            })
            .filter(move |&i| i >= from && i < to)
    }

    /// Every member, ascending.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.range(0, self.words.len() as u64 * 64)
    }
}

#[cfg(test)]
mod tests {
    use super::SlotSet;
    use std::collections::BTreeSet;

    /// Agrees with a `BTreeSet` under a pseudo-random mix of inserts and removes, for
    /// membership and ranges that start and end inside words.
    #[test]
    fn agrees_with_a_btreeset() {
        let mut set = SlotSet::range_full(5, 300);
        let mut model: BTreeSet<u64> = (5..300).collect();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..5_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = x % 400;
            if x & (1 << 40) == 0 {
                assert_eq!(set.insert(i), model.insert(i));
            } else {
                assert_eq!(set.remove(i), model.remove(&i));
            }
            assert_eq!(set.contains(i), model.contains(&i));
            let (a, b) = (x % 401, (x >> 20) % 401);
            let (from, to) = (a.min(b), a.max(b));
            let got: Vec<u64> = set.range(from, to).collect();
            let want: Vec<u64> = model.range(from..to).copied().collect();
            assert_eq!(got, want, "range {from}..{to}");
        }
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            model.iter().copied().collect::<Vec<_>>()
        );
    }
}
