//! What a read replica shows right after a write
//! (<https://devblogs.microsoft.com/identity/designing-for-eventual-consistency-for-microsoft-entra/>,
//! and the Learn page "Microsoft
//! Graph advanced query capabilities on Microsoft Entra ID objects", which calls directory reads
//! eventually consistent): new objects missing from collections and alternate-key reads for
//! `list_lag_secs`, and an application's pre-PATCH version served for `stale_read_secs`. Writes
//! always act on the real current objects.

use crate::tenant::{Application, Tenant};

impl Tenant {
    /// Records that object `id` was just created (for the list lag).
    pub(crate) fn born(&mut self, id: &str) {
        let now = self.clock.now_ms();
        self.born.insert(id.to_owned(), now);
    }

    /// Whether object `id` has reached the replicas that answer collection reads.
    pub fn listed(&self, id: &str) -> bool {
        self.born
            .get(id)
            .is_none_or(|at| self.clock.now_ms() - at >= self.list_lag_secs * 1000)
    }

    /// Remembers `app` as it was before a PATCH, for reads during the stale window.
    pub(crate) fn before_patch(&mut self, app: &Application) {
        if self.stale_read_secs > 0 {
            let until = self.clock.now_ms() + self.stale_read_secs * 1000;
            self.stale.insert(app.id.clone(), (app.clone(), until));
        }
    }

    /// The version of `app` a read sees now: the pre-PATCH one while the stale window lasts.
    pub fn as_read<'a>(&'a self, app: &'a Application) -> &'a Application {
        match self.stale.get(&app.id) {
            Some((old, until)) if self.clock.now_ms() < *until => old,
            _ => app,
        }
    }

    /// The applications a collection read sees, in creation order.
    pub fn readable_applications(&self) -> impl Iterator<Item = &Application> {
        self.applications
            .iter()
            .filter(|a| self.listed(&a.id))
            .map(|a| self.as_read(a))
    }
}
