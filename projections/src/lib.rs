pub use ansinh_events;
