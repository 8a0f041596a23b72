//! insyn: GDPR data-subject requests over a public body's archived social-media records.
//! The module map; each capability lives in its own folder (see DESIGN.md).
pub mod app;
pub mod archive;
pub mod audit;
pub mod auth;
pub mod bench;
pub mod bench_erasure;
pub mod bench_intake;
pub mod bench_package;
pub mod config;
pub mod consent;
pub mod db;
pub mod erasure;
pub mod http;
pub mod jobs;
pub mod mail;
pub mod packages;
pub mod pages;
pub mod registry;
pub mod requests;
pub mod retention;
pub mod secret;
pub mod vocabulary;
