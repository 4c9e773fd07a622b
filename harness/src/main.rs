fn main() -> std::process::ExitCode {
    dbcompat::cli::main()
}
