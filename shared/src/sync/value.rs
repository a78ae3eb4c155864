//! [`Value`] and [`Array`]: plain data behind a lock in shared memory; and
//! [`Shared`]: plain data with no lock, for atomics.

use std::cell::UnsafeCell;
use std::time::Duration;

use super::robust::{MutexKind, RobustGuard, RobustMutex};
use super::{LockError, Plain, Region, locked};
use crate::error::Error;
use crate::sys::deadline_after;

#[repr(C)]
struct ValueBlock<T> {
    lock: RobustMutex,
    value: UnsafeCell<T>,
}

// Safety: `value` is reached only while `lock`, a process-shared mutex, is
// held (through a guard), so one thread of one process at a time.
unsafe impl<T: Send> Sync for ValueBlock<T> {}

/// One value of plain data that processes share, with a lock. Python:
/// `multiprocessing.Value(typecode, value)`, `lock=True`.
///
/// [`get`](Value::get) and [`set`](Value::set) each take the lock for one
/// read or one write, as Python's `v.value` does: so `v.set(v.get()? + 1)`
/// from several processes loses updates, as `v.value += 1` does. Hold
/// [`get_lock`](Value::get_lock)'s guard across the read and the write.
///
/// ```standalone_crate
/// use multiproc::{Process, Value};
///
/// let count = Value::new(0_u64).unwrap();
/// let mut children: Vec<Process> = (0..2)
///     .map(|_| {
///         Process::start(|| {
///             for _ in 0..1000 {
///                 *count.get_lock().unwrap() += 1; // Python: with v.get_lock(): v.value += 1
///             }
///         })
///         .unwrap()
///     })
///     .collect();
/// for child in &mut children {
///     child.join().unwrap();
/// }
/// assert_eq!(count.get().unwrap(), 2000);
/// ```
#[doc(alias = "multiprocessing.Value")]
pub struct Value<T: Plain> {
    block: Region<ValueBlock<T>>,
}

/// Holds a [`Value`]'s lock, and derefs to the value. Python: the body of
/// `with v.get_lock():`.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ValueGuard<'a, T> {
    value: &'a UnsafeCell<T>,
    _held: RobustGuard<'a>,
}

impl<T: Plain> Value<T> {
    /// A new value in shared memory, holding `initial`.
    ///
    /// # Errors
    /// [`Error::Os`] if the memory cannot be mapped or the lock set up.
    pub fn new(initial: T) -> Result<Value<T>, Error> {
        let init = |block: *mut ValueBlock<T>| {
            // Safety: (this and the three below) `block` is fresh memory for a block that
            // no one else sees yet, and stays put for the mapping's life; the
            // fields are reached through pointers, with no reference made to
            // the unset bytes.
            let lock = unsafe { &raw mut (*block).lock };
            // Safety: as above.
            let value = unsafe { &raw mut (*block).value };
            // Safety: as above.
            unsafe { RobustMutex::init(lock, MutexKind::ErrorCheck)? };
            // Safety: as above.
            unsafe { value.cast::<T>().write(initial) };
            Ok(())
        };
        // Safety: `init` sets up the lock and writes the value in place; the
        // value is reached only under the lock.
        let block = unsafe { Region::new(0, init)? };
        Ok(Value { block })
    }

    /// Takes the value's lock, waiting as long as it takes; the guard
    /// derefs to the value. Python: `with v.get_lock():`.
    ///
    /// # Errors
    /// [`LockError::HolderDied`] with the guard if the last holder died
    /// holding it (the value may be half updated); [`LockError::AlreadyHeld`]
    /// if this thread holds it; [`LockError::Os`] if the system refused.
    pub fn get_lock(&self) -> Result<ValueGuard<'_, T>, LockError<ValueGuard<'_, T>>> {
        self.lock_until(None)
    }

    /// Takes the value's lock, waiting at most `timeout`.
    ///
    /// # Errors
    /// [`LockError::TimedOut`] if it was still held at the deadline; the
    /// others as [`Value::get_lock`].
    pub fn get_lock_timeout(
        &self,
        timeout: Duration,
    ) -> Result<ValueGuard<'_, T>, LockError<ValueGuard<'_, T>>> {
        self.lock_until(deadline_after(timeout))
    }

    fn lock_until(
        &self,
        deadline: Option<std::time::Instant>,
    ) -> Result<ValueGuard<'_, T>, LockError<ValueGuard<'_, T>>> {
        locked(self.block.lock.lock_until(deadline), |held| ValueGuard {
            value: &self.block.value,
            _held: held,
        })
    }

    /// A copy of the value, read under the lock. Python: `v.value`.
    ///
    /// # Errors
    /// As [`Value::get_lock`].
    pub fn get(&self) -> Result<T, LockError<ValueGuard<'_, T>>>
    where
        T: Copy,
    {
        self.get_lock().map(|guard| *guard)
    }

    /// Writes the value under the lock. Python: `v.value = x`.
    ///
    /// # Errors
    /// As [`Value::get_lock`].
    pub fn set(&self, value: T) -> Result<(), LockError<ValueGuard<'_, T>>> {
        self.get_lock().map(|mut guard| *guard = value)
    }
}

impl<T> std::ops::Deref for ValueGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // Safety: the guard holds the lock, so no other thread or process
        // reaches the value until it is dropped.
        unsafe { &*self.value.get() }
    }
}

impl<T> std::ops::DerefMut for ValueGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // Safety: as in `deref`; `&mut self` makes this the only reference.
        unsafe { &mut *self.value.get() }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for ValueGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ValueGuard").field(&**self).finish()
    }
}

impl<T: Plain> std::fmt::Debug for Value<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Value")
    }
}

#[repr(C)]
struct ArrayHeader {
    lock: RobustMutex,
    len: usize,
}

// Safety: `len` is set before anyone else sees the header and only read
// after; the lock is process-shared.
unsafe impl Sync for ArrayHeader {}

/// A fixed number of plain values that processes share, with one lock.
/// Python: `multiprocessing.Array(typecode, size_or_initializer)`,
/// `lock=True`.
///
/// ```standalone_crate
/// let squares = multiproc::Array::new(&[0_u32; 4]).unwrap();
/// for i in 0..4 {
///     squares.set(i, (i * i) as u32).unwrap();
/// }
/// assert_eq!(squares.to_vec().unwrap(), [0, 1, 4, 9]);
/// assert_eq!(squares.get_lock().unwrap().iter().sum::<u32>(), 14);
/// ```
#[doc(alias = "multiprocessing.Array")]
pub struct Array<T: Plain + Copy> {
    header: Region<ArrayHeader>,
    element: std::marker::PhantomData<T>,
}

/// Holds an [`Array`]'s lock, and derefs to its elements as a slice.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ArrayGuard<'a, T> {
    elements: *mut T,
    len: usize,
    _held: RobustGuard<'a>,
}

impl<T: Plain + Copy> Array<T> {
    /// A new array in shared memory, holding a copy of `initial`.
    ///
    /// # Errors
    /// [`Error::State`] if it is larger than memory; [`Error::Os`] if the
    /// memory cannot be mapped or the lock set up.
    pub fn new(initial: &[T]) -> Result<Array<T>, Error> {
        let bytes = std::mem::size_of_val(initial);
        assert!(
            std::mem::align_of::<T>() <= 64,
            "elements aligned to at most 64 bytes"
        );
        let init = |header: *mut ArrayHeader| {
            // Safety: (this and the three below) `header` is fresh memory for it that no
            // one else sees yet, and stays put for the mapping's life.
            let lock = unsafe { &raw mut (*header).lock };
            // Safety: as above.
            let len = unsafe { &raw mut (*header).len };
            // Safety: as above.
            unsafe { RobustMutex::init(lock, MutexKind::ErrorCheck)? };
            // Safety: as above.
            unsafe { len.write(initial.len()) };
            Ok(())
        };
        // Safety: `init` sets up the lock and the length; the elements are
        // copied in below, before anyone else sees them, and are reached
        // only under the lock.
        let header = unsafe { Region::new(bytes, init)? };
        // Safety: the tail holds `bytes` bytes, aligned for `T`; no one else
        // sees it yet; `initial` is this process's memory, not the mapping.
        unsafe {
            std::ptr::copy_nonoverlapping(
                initial.as_ptr(),
                header.tail().cast::<T>(),
                initial.len(),
            );
        }
        Ok(Array {
            header,
            element: std::marker::PhantomData,
        })
    }

    /// How many elements it holds. Python: `len(array)`.
    pub fn len(&self) -> usize {
        self.header.len
    }

    /// Whether it holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes the array's lock, waiting as long as it takes; the guard
    /// derefs to the elements. Python: `with array.get_lock():`.
    ///
    /// # Errors
    /// As [`Value::get_lock`].
    pub fn get_lock(&self) -> Result<ArrayGuard<'_, T>, LockError<ArrayGuard<'_, T>>> {
        locked(self.header.lock.lock_until(None), |held| ArrayGuard {
            elements: self.header.tail().cast::<T>(),
            len: self.len(),
            _held: held,
        })
    }

    /// A copy of element `index`, read under the lock. Python: `array[i]`.
    ///
    /// # Errors
    /// As [`Value::get_lock`].
    ///
    /// # Panics
    /// If `index` is out of range, as slice indexing does.
    pub fn get(&self, index: usize) -> Result<T, LockError<ArrayGuard<'_, T>>> {
        self.get_lock().map(|guard| guard[index])
    }

    /// Writes element `index` under the lock. Python: `array[i] = x`.
    ///
    /// # Errors
    /// As [`Value::get_lock`].
    ///
    /// # Panics
    /// If `index` is out of range.
    pub fn set(&self, index: usize, value: T) -> Result<(), LockError<ArrayGuard<'_, T>>> {
        self.get_lock().map(|mut guard| guard[index] = value)
    }

    /// A copy of every element, read under the lock. Python: `array[:]`.
    ///
    /// # Errors
    /// As [`Value::get_lock`].
    pub fn to_vec(&self) -> Result<Vec<T>, LockError<ArrayGuard<'_, T>>> {
        self.get_lock().map(|guard| guard.to_vec())
    }
}

impl<T> std::ops::Deref for ArrayGuard<'_, T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        // Safety: the guard holds the lock, so no one else reaches the
        // elements, which are `len` initialised `T`s in the mapping.
        unsafe { std::slice::from_raw_parts(self.elements, self.len) }
    }
}

impl<T> std::ops::DerefMut for ArrayGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // Safety: as in `deref`; `&mut self` makes this the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.elements, self.len) }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for ArrayGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ArrayGuard").field(&&**self).finish()
    }
}

impl<T: Plain + Copy> std::fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Array").field("len", &self.len()).finish()
    }
}

/// Plain data that processes share with no lock: only shared references
/// to it are ever made, so it is for types that change through shared
/// references, that is atomics (`AtomicU64`, `[AtomicU32; N]`), or for data
/// that never changes. Python: `multiprocessing.RawValue` and `RawArray`,
/// without the data races they allow.
///
/// ```standalone_crate
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use multiproc::{Process, Shared};
///
/// let hits = Shared::new(AtomicU64::new(0)).unwrap();
/// let mut child = Process::start(|| {
///     hits.fetch_add(1, Ordering::Relaxed);
/// })
/// .unwrap();
/// child.join().unwrap();
/// assert_eq!(hits.load(Ordering::Relaxed), 1);
/// ```
#[doc(alias = "RawValue")]
#[doc(alias = "RawArray")]
pub struct Shared<T: Plain + Sync> {
    region: Region<T>,
}

impl<T: Plain + Sync> Shared<T> {
    /// `value`, moved into shared memory.
    ///
    /// # Errors
    /// [`Error::Os`] if the memory cannot be mapped.
    pub fn new(value: T) -> Result<Shared<T>, Error> {
        let init = |place: *mut T| {
            // Safety: fresh memory for a `T`, seen by no one else yet.
            unsafe { place.write(value) };
            Ok(())
        };
        // Safety: `init` writes a valid `T`, which is `Sync`: shared
        // references to it are sound from any thread, and from processes
        // just as from threads, since only shared references are made.
        let region = unsafe { Region::new(0, init)? };
        Ok(Shared { region })
    }
}

impl<T: Plain + Sync> std::ops::Deref for Shared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.region
    }
}

impl<T: Plain + Sync + std::fmt::Debug> std::fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Shared").field(&**self).finish()
    }
}
