//! `cargo bench -p seamless-bench --bench compare [-- --quick] [-- --rows P1,P3]`:
//! see the `seamless_bench` crate docs.

fn main() -> std::process::ExitCode {
    seamless_bench::main()
}
