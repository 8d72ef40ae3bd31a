mod address;
mod bridges;
mod config;
mod store;
mod xml_clean;

fn main() {}
