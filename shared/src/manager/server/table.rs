//! SERVER PROCESS: the objects the manager serves, and the references each
//! owner (a connection, or a forked child) holds on them.

use std::collections::{HashMap, VecDeque};

/// One object the server serves.
pub(super) enum Object {
    Dict(HashMap<String, Vec<u8>>),
    Queue {
        items: VecDeque<Vec<u8>>,
        maxsize: usize,
    },
    Lock {
        holder: Option<u64>,
    },
}

/// The objects and who holds references on them, under one lock.
#[derive(Default)]
pub(super) struct Table {
    pub(super) objects: HashMap<u64, Object>,
    /// References on each object, over all owners.
    pub(super) total: HashMap<u64, usize>,
    /// The references each owner holds: a connection (its process's
    /// proxies) or a forked child (the proxies it inherited).
    pub(super) owned: HashMap<u64, HashMap<u64, usize>>,
    /// References lent to a message in transit: token to (lender, object).
    pub(super) tokens: HashMap<u64, (u64, u64)>,
}

impl Table {
    /// One more reference on `id`, owned by `owner`, if the object exists.
    pub(super) fn add_ref(&mut self, owner: u64, id: u64) -> bool {
        if !self.objects.contains_key(&id) {
            return false;
        }
        *self.owned.entry(owner).or_default().entry(id).or_default() += 1;
        *self.total.entry(id).or_default() += 1;
        true
    }

    /// One reference of `owner` on `id` less (none if it holds none); frees
    /// the object at zero. True if an object was freed.
    pub(super) fn drop_ref(&mut self, owner: u64, id: u64) -> bool {
        let Some(held) = self.owned.get_mut(&owner) else {
            return false;
        };
        match held.get_mut(&id) {
            Some(n) if *n > 1 => *n -= 1,
            Some(_) => {
                held.remove(&id);
            }
            None => return false,
        }
        if held.is_empty() {
            self.owned.remove(&owner);
        }
        self.less(id, 1)
    }

    /// Drops every reference `owner` holds: its connection closed, or the
    /// child it stands for ended. True if an object was freed.
    pub(super) fn drop_owner(&mut self, owner: u64) -> bool {
        self.tokens.retain(|_, (lender, _)| *lender != owner);
        let held = self.owned.remove(&owner).unwrap_or_default();
        let mut freed = false;
        for (id, n) in held {
            freed |= self.less(id, n);
        }
        freed
    }

    fn less(&mut self, id: u64, n: usize) -> bool {
        let Some(total) = self.total.get_mut(&id) else {
            return false;
        };
        *total = total.saturating_sub(n);
        if *total > 0 {
            return false;
        }
        self.total.remove(&id);
        self.objects.remove(&id);
        true
    }

    /// Moves the reference lent under `token` to `owner`; if that token is
    /// unknown (claimed already: the same bytes decoded twice), adds one.
    pub(super) fn claim(&mut self, owner: u64, id: u64, token: u64) {
        match self.tokens.remove(&token) {
            Some((lender, lent)) if lent == id => {
                if let Some(held) = self.owned.get_mut(&lender)
                    && let Some(n) = held.get_mut(&id)
                {
                    *n -= 1;
                    if *n == 0 {
                        held.remove(&id);
                    }
                }
                *self.owned.entry(owner).or_default().entry(id).or_default() += 1;
            }
            Some(other) => {
                // A token for another object: put it back, count this one.
                self.tokens.insert(token, other);
                self.add_ref(owner, id);
            }
            None => {
                self.add_ref(owner, id);
            }
        }
    }
}
