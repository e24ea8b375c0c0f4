//! Embeds the web pages' templates (`src/web/templates/`) in the binary, so the pages work
//! offline from a single file; rebuilds when a migration is added (`sqlx::migrate!` embeds the
//! files it saw, and a new file would otherwise go unnoticed).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    minijinja_embed::embed_templates!("src/web/templates");
}
