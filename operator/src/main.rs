fn main() -> anyhow::Result<()> {
    meshglass_operator::cli::main()
}
