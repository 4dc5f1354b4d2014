//! A table's rows as a persistent vector. A source keeps its table in one and every snapshot
//! shares it, so publishing 10,000 pods copies a pointer instead of 10,000 rows, a watch event
//! changes one row in O(log n), and a table nobody touched compares equal without looking
//! at its rows.

use imbl::Vector;
use imbl::shared_ptr::DefaultSharedPtr;
use imbl::vector::{ConsumingIter, Iter, IterMut};
use serde::Serialize;
use std::fmt;
use std::ops::{Index, IndexMut};

#[derive(Clone, Serialize)]
#[serde(transparent)]
pub struct Rows<T: Clone>(Vector<T>);

impl<T: Clone> Rows<T> {
    pub fn new() -> Self {
        Rows(Vector::new())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> Iter<'_, T, DefaultSharedPtr> {
        self.0.iter()
    }

    pub fn iter_mut(&mut self) -> IterMut<'_, T, DefaultSharedPtr> {
        self.0.iter_mut()
    }

    pub fn get(&self, index: usize) -> Option<&T> {
        self.0.get(index)
    }

    pub fn push(&mut self, row: T) {
        self.0.push_back(row);
    }

    pub fn binary_search_by(
        &self,
        order: impl FnMut(&T) -> std::cmp::Ordering,
    ) -> Result<usize, usize> {
        self.0.binary_search_by(order)
    }

    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.0.retain(keep);
    }

    /// Whether both share the same storage: true means equal, false says nothing.
    pub fn same(&self, other: &Self) -> bool {
        self.0.ptr_eq(&other.0)
    }
}

impl<T: Clone> Default for Rows<T> {
    fn default() -> Self {
        Rows::new()
    }
}

impl<T: Clone + PartialEq> PartialEq for Rows<T> {
    fn eq(&self, other: &Self) -> bool {
        self.same(other) || self.0 == other.0
    }
}

impl<T: Clone + fmt::Debug> fmt::Debug for Rows<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

impl<T: Clone> From<Vec<T>> for Rows<T> {
    fn from(rows: Vec<T>) -> Self {
        Rows(rows.into_iter().collect())
    }
}

impl<T: Clone> From<Vector<T>> for Rows<T> {
    fn from(rows: Vector<T>) -> Self {
        Rows(rows)
    }
}

impl<T: Clone> FromIterator<T> for Rows<T> {
    fn from_iter<I: IntoIterator<Item = T>>(rows: I) -> Self {
        Rows(rows.into_iter().collect())
    }
}

impl<'a, T: Clone> IntoIterator for &'a Rows<T> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T, DefaultSharedPtr>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T: Clone> IntoIterator for Rows<T> {
    type Item = T;
    type IntoIter = ConsumingIter<T, DefaultSharedPtr>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<T: Clone> Index<usize> for Rows<T> {
    type Output = T;

    fn index(&self, index: usize) -> &T {
        &self.0[index]
    }
}

impl<T: Clone> IndexMut<usize> for Rows<T> {
    fn index_mut(&mut self, index: usize) -> &mut T {
        &mut self.0[index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_table_is_equal_without_comparing_rows_and_a_changed_one_is_not() {
        // Big enough to live on the heap: a few rows are copied inline, and never shared.
        let mut rows = vec![1.0; 100];
        rows[99] = f64::NAN;
        let a: Rows<f64> = rows.into();
        let b = a.clone();
        assert!(a.same(&b));
        assert_eq!(
            a, b,
            "NaN never equals itself, so only sharing makes these equal"
        );
        let mut c = b.clone();
        c[0] = 2.0;
        assert!(!c.same(&a) && c != a);
        assert_eq!(
            a[0], 1.0,
            "a change never reaches the snapshot that shared it"
        );
    }
}
