fn main() {
    eprintln!("load-generator: not built yet");
    std::process::exit(2);
}
