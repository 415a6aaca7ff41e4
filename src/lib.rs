pub use seamless_runtime::*;
