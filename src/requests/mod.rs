//! Data-subject requests: intake, proof of identity (a mailed code, a phrase sent from the claimed
//! account, or an officer's check), the officer's queue and actions, the Art. 12(3) clock, mail.
pub mod api;
pub mod clock;
pub mod mail;
pub mod rules;
pub mod store;

pub use store::prove_by_message;
