//! Embeds the web pages' templates (`src/web/templates/`) in the binary, so the pages work
//! offline from a single file.
fn main() {
    minijinja_embed::embed_templates!("src/web/templates");
}
