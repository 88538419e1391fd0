//! Links `difflore-hook` — the binary agents start on every tool call — as a static, non-PIE
//! executable where the C library allows it, so that starting it costs no dynamic loader and
//! no relocations (about 1 ms less per hook call on a small VM; see the README's performance
//! section). `difflore` itself stays an ordinary dynamic executable.
//!
//! Cargo has no per-binary codegen flags, so the static link is asked of the linker alone:
//! `-static -no-pie` for this binary, and a directory of its own, searched before the system's,
//! in which each library that Rust's standard library names for a dynamic link (`-lgcc_s`,
//! `-lc`, `-lm`, …) is the static archive (`libgcc_s` becomes `libgcc_eh` + `libgcc`, as for
//! `-static-libgcc`). Where glibc's static libraries are not installed the hook is only linked
//! non-PIE; elsewhere (not Linux with glibc, a cross build, a build that is already
//! `crt-static`) it is left as Cargo links it. `DIFFLORE_HOOK_LINK=dynamic` opts out.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DIFFLORE_HOOK_LINK");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let already_static = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static");
    if var("CARGO_CFG_TARGET_OS") != "linux"
        || var("CARGO_CFG_TARGET_ENV") != "gnu"
        || var("DIFFLORE_HOOK_LINK") == "dynamic"
        // `-C target-feature=+crt-static` links statically already (a static PIE, which
        // `-no-pie` would break); a cross build would find the host's C library.
        || already_static
        || var("HOST") != var("TARGET")
    {
        return;
    }
    // Without relocations to apply at start: the code is position independent, the executable
    // is not.
    println!("cargo:rustc-link-arg-bin=difflore-hook=-no-pie");
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        return;
    };
    match static_libs(&out.join("static-hook")) {
        Some(dir) => {
            println!("cargo:rustc-link-arg-bin=difflore-hook=-static");
            println!("cargo:rustc-link-arg-bin=difflore-hook=-L{}", dir.display());
        }
        None => println!(
            "cargo:warning=difflore-hook is linked dynamically: glibc's static libraries (libc.a) were not found"
        ),
    }
}

/// Where the C compiler finds `name`, when it is a file that exists.
fn compiler_file(name: &str) -> Option<PathBuf> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(cc)
        .arg(format!("-print-file-name={name}"))
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    (path.is_absolute() && path.is_file()).then_some(path)
}

/// Fills `dir` with one linker script per library the standard library names, each naming the
/// static archive; `None` when one of them is not installed.
fn static_libs(dir: &Path) -> Option<PathBuf> {
    let gcc = compiler_file("libgcc.a")?;
    let gcc_eh = compiler_file("libgcc_eh.a")?;
    let libc = compiler_file("libc.a")?;
    let mut scripts = vec![
        (
            "libgcc_s.a".to_string(),
            format!("GROUP ( {} {} )", gcc_eh.display(), gcc.display()),
        ),
        (
            "libc.a".to_string(),
            format!(
                "GROUP ( {} {} {} )",
                libc.display(),
                gcc.display(),
                gcc_eh.display()
            ),
        ),
    ];
    for lib in ["util", "rt", "pthread", "m", "dl"] {
        let archive = compiler_file(&format!("lib{lib}.a"))?;
        scripts.push((
            format!("lib{lib}.a"),
            format!("INPUT ( {} )", archive.display()),
        ));
    }
    std::fs::create_dir_all(dir).ok()?;
    for (name, text) in scripts {
        std::fs::write(dir.join(name), format!("{text}\n")).ok()?;
    }
    Some(dir.to_path_buf())
}
