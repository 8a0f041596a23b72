//! Access (Art. 15) and export (Art. 20) packages: a ZIP built by a job, page by page, stored with
//! its hash, downloaded with the status token while the link is valid, purged when it expires.
pub mod build;
pub mod rules;
pub mod store;

pub use store::{BUILD_JOB, PURGE_JOB, Storage, queue_build};
