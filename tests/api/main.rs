//! All integration tests in one binary: the real router on a real port, a fresh database each.
mod helpers;

mod archive;
mod audit;
mod auth;
mod cli;
mod consent;
mod erasure;
mod jobs;
mod mail;
mod openapi;
mod packages;
mod pages;
mod problems;
mod registry;
mod requests;
mod retention;
mod rights;
mod smtp;
mod store;
