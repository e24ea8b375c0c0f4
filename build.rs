// `sqlx::migrate!` embeds the migrations at compile time; without this, a changed or added
// migration would not rebuild the binary that applies them.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
