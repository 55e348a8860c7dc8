//! What a binary needs at run time besides itself: its dynamic loader
//! (`PT_INTERP`) and the shared libraries it links (`DT_NEEDED`, followed
//! transitively), found the way the loader would find them on this machine.
//! A statically linked binary needs nothing.

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Command;

use object::elf;
use object::read::elf::{ElfFile64, FileHeader, ProgramHeader};
use object::{Endianness, FileKind};

use crate::AssembleError;

/// One file to copy into the image: where it goes, where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostFile {
    pub image_path: String,
    pub host_path: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuntimeNeeds {
    /// The OCI architecture (`amd64`, `arm64`).
    pub architecture: &'static str,
    /// The loader and every library, each under the path the loader asks
    /// for or finds it at; empty for a static binary.
    pub files: Vec<HostFile>,
    /// Directories libraries came from that the loader does not search by
    /// itself (the image has no `ld.so.cache`): they go into
    /// `LD_LIBRARY_PATH`.
    pub extra_library_dirs: Vec<String>,
}

/// Where libraries are looked for, after the object's own RPATH/RUNPATH.
#[derive(Debug, Clone)]
pub(crate) struct SearchDirs {
    /// Directories `ld.so.cache` is built from (`/etc/ld.so.conf`).
    pub configured: Vec<String>,
    /// The loader's built-in system search path.
    pub system: Vec<String>,
}

impl SearchDirs {
    /// This machine's view: `/etc/ld.so.conf` and the loader's own report of
    /// its system search path (`ld.so --help`), or the usual directories when
    /// the loader cannot tell (musl).
    pub(crate) fn of_host(interpreter: &Path, machine: u16) -> SearchDirs {
        let system =
            loader_system_dirs(interpreter).unwrap_or_else(|| fallback_system_dirs(machine));
        let mut configured = Vec::new();
        read_ld_so_conf(Path::new("/etc/ld.so.conf"), &mut configured, 0);
        SearchDirs { configured, system }
    }

    fn all(&self) -> impl Iterator<Item = &String> {
        self.configured.iter().chain(&self.system)
    }
}

struct ElfInfo {
    machine: u16,
    interpreter: Option<String>,
    needed: Vec<String>,
    /// RPATH entries (used only when there is no RUNPATH, as the loader does).
    rpath: Vec<String>,
    runpath: Vec<String>,
}

fn read_elf(path: &Path) -> Result<ElfInfo, String> {
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    match FileKind::parse(data.as_slice()).map_err(|e| e.to_string())? {
        FileKind::Elf64 => {}
        FileKind::Elf32 => return Err("32-bit ELF is not supported".into()),
        other => return Err(format!("not an ELF file ({other:?})")),
    }
    let file = ElfFile64::<Endianness>::parse(data.as_slice()).map_err(|e| e.to_string())?;
    let endian = file.endian();
    let header = file.elf_header();
    let machine = header.e_machine(endian);
    let mut interpreter = None;
    for segment in file.elf_program_headers() {
        if let Some(bytes) = segment
            .interpreter(endian, data.as_slice())
            .map_err(|e| e.to_string())?
        {
            interpreter = Some(String::from_utf8_lossy(bytes).into_owned());
        }
    }
    let origin = path
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let table = file
        .elf_section_table()
        .dynamic_table(endian, data.as_slice())
        .map_err(|e| e.to_string())?;
    let (mut needed, mut rpath, mut runpath) = (Vec::new(), Vec::new(), Vec::new());
    for entry in table.iter() {
        let text = |d| -> Result<String, String> {
            let bytes = table.string(d).map_err(|e| e.to_string())?;
            Ok(String::from_utf8_lossy(bytes).into_owned())
        };
        match entry.tag {
            elf::DT_NEEDED => needed.push(text(entry)?),
            elf::DT_RPATH => rpath.extend(split_search_path(&text(entry)?, &origin)),
            elf::DT_RUNPATH => runpath.extend(split_search_path(&text(entry)?, &origin)),
            _ => {}
        }
    }
    Ok(ElfInfo {
        machine,
        interpreter,
        needed,
        rpath,
        runpath,
    })
}

fn split_search_path(value: &str, origin: &str) -> Vec<String> {
    value
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| d.replace("${ORIGIN}", origin).replace("$ORIGIN", origin))
        .collect()
}

pub(crate) fn architecture_of(machine: u16) -> Option<&'static str> {
    match machine {
        elf::EM_X86_64 => Some("amd64"),
        elf::EM_AARCH64 => Some("arm64"),
        _ => None,
    }
}

/// What `binary` needs, searched in `dirs` (`None`: this machine's view).
pub(crate) fn runtime_needs(
    binary: &Path,
    dirs: Option<&SearchDirs>,
) -> Result<RuntimeNeeds, AssembleError> {
    let not_executable = |reason: String| AssembleError::NotAnExecutable {
        binary: binary.to_owned(),
        reason,
    };
    let info = read_elf(binary).map_err(not_executable)?;
    let architecture =
        architecture_of(info.machine).ok_or_else(|| AssembleError::UnsupportedArchitecture {
            binary: binary.to_owned(),
            machine: format!("ELF machine {}", info.machine),
        })?;
    let Some(interpreter) = info.interpreter.clone() else {
        if !info.needed.is_empty() {
            return Err(not_executable(format!(
                "it links {} but names no dynamic loader",
                info.needed.join(", ")
            )));
        }
        return Ok(RuntimeNeeds {
            architecture,
            files: Vec::new(),
            extra_library_dirs: Vec::new(),
        });
    };
    let interpreter_path = PathBuf::from(&interpreter);
    if !interpreter_path.is_file() {
        return Err(AssembleError::MissingInterpreter {
            binary: binary.to_owned(),
            interpreter,
        });
    }
    let host_dirs;
    let dirs = match dirs {
        Some(dirs) => dirs,
        None => {
            host_dirs = SearchDirs::of_host(&interpreter_path, info.machine);
            &host_dirs
        }
    };

    let mut files = vec![HostFile {
        image_path: interpreter.clone(),
        host_path: interpreter_path,
    }];
    let mut extra_library_dirs = Vec::new();
    // Libraries by soname, as the loader loads each soname once.
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut queue: VecDeque<(String, Vec<String>)> = VecDeque::new();
    let inherited_rpath = if info.runpath.is_empty() {
        info.rpath.clone()
    } else {
        Vec::new()
    };
    for name in &info.needed {
        queue.push_back((name.clone(), object_dirs(&info, &inherited_rpath)));
    }
    while let Some((name, own_dirs)) = queue.pop_front() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let (image_path, host_path, dir) = find_library(&name, &own_dirs, dirs, info.machine)
            .ok_or_else(|| {
                let searched: Vec<&str> = own_dirs
                    .iter()
                    .chain(dirs.all())
                    .map(String::as_str)
                    .collect();
                AssembleError::MissingLibrary {
                    binary: binary.to_owned(),
                    library: name.clone(),
                    searched: searched.join(", "),
                }
            })?;
        if !dirs.system.contains(&dir) && !extra_library_dirs.contains(&dir) {
            extra_library_dirs.push(dir);
        }
        let library = read_elf(&host_path).map_err(|reason| AssembleError::NotAnExecutable {
            binary: host_path.clone(),
            reason,
        })?;
        for next in &library.needed {
            queue.push_back((next.clone(), object_dirs(&library, &inherited_rpath)));
        }
        // The loader itself is often also a DT_NEEDED of libc: one copy.
        if image_path != interpreter {
            files.push(HostFile {
                image_path,
                host_path,
            });
        }
    }
    files.sort_by(|a, b| a.image_path.cmp(&b.image_path));
    files.dedup_by(|a, b| a.image_path == b.image_path);
    Ok(RuntimeNeeds {
        architecture,
        files,
        extra_library_dirs,
    })
}

/// The directories an object's own headers add: its RUNPATH, or else its
/// RPATH and the executable's.
fn object_dirs(object: &ElfInfo, inherited_rpath: &[String]) -> Vec<String> {
    if !object.runpath.is_empty() {
        return object.runpath.clone();
    }
    let mut dirs = object.rpath.clone();
    dirs.extend(inherited_rpath.iter().cloned());
    dirs
}

/// `(image path, host path, directory)` of the first match, skipping files of
/// another architecture as the loader does.
fn find_library(
    name: &str,
    own_dirs: &[String],
    dirs: &SearchDirs,
    machine: u16,
) -> Option<(String, PathBuf, String)> {
    if name.contains('/') {
        let path = PathBuf::from(name);
        let dir = path.parent()?.to_string_lossy().into_owned();
        return is_elf_for(&path, machine).then(|| (name.to_owned(), path, dir));
    }
    own_dirs.iter().chain(dirs.all()).find_map(|dir| {
        let dir = dir.trim_end_matches('/');
        let path = PathBuf::from(format!("{dir}/{name}"));
        is_elf_for(&path, machine).then(|| (format!("{dir}/{name}"), path, dir.to_owned()))
    })
}

fn is_elf_for(path: &Path, machine: u16) -> bool {
    path.is_file() && read_elf(path).is_ok_and(|info| info.machine == machine)
}

fn loader_system_dirs(interpreter: &Path) -> Option<Vec<String>> {
    let output = Command::new(interpreter).arg("--help").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let dirs: Vec<String> = text
        .lines()
        .filter_map(|line| line.trim().strip_suffix("(system search path)"))
        .map(|dir| dir.trim().to_owned())
        .collect();
    (!dirs.is_empty()).then_some(dirs)
}

fn fallback_system_dirs(machine: u16) -> Vec<String> {
    let triple = if machine == elf::EM_AARCH64 {
        "aarch64-linux-gnu"
    } else {
        "x86_64-linux-gnu"
    };
    [
        format!("/lib/{triple}"),
        format!("/usr/lib/{triple}"),
        "/lib64".into(),
        "/usr/lib64".into(),
        "/lib".into(),
        "/usr/lib".into(),
    ]
    .into()
}

/// Appends the directories of an `ld.so.conf`, following `include` lines
/// (relative to `/etc`, `*` allowed in the file name part).
fn read_ld_so_conf(path: &Path, dirs: &mut Vec<String>, depth: u32) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    if depth > 8 {
        return;
    }
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(pattern) = line
            .strip_prefix("include")
            .filter(|rest| rest.starts_with([' ', '\t']))
        {
            for pattern in pattern.split_whitespace() {
                let pattern = Path::new("/etc").join(pattern);
                for file in expand_file_glob(&pattern) {
                    read_ld_so_conf(&file, dirs, depth + 1);
                }
            }
        } else if line.starts_with('/') {
            for dir in line.split([':', ',', ' ', '\t']).filter(|d| !d.is_empty()) {
                if !dirs.iter().any(|d| d == dir) {
                    dirs.push(dir.to_owned());
                }
            }
        }
    }
}

/// Matches `dir/prefix*suffix` (a `*` in the last component only), sorted as
/// ldconfig reads them.
fn expand_file_glob(pattern: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (
        pattern.parent(),
        pattern.file_name().and_then(|n| n.to_str()),
    ) else {
        return Vec::new();
    };
    let Some((prefix, suffix)) = name.split_once('*') else {
        return vec![pattern.to_owned()];
    };
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = read
        .filter_map(Result::ok)
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.len() >= prefix.len() + suffix.len() && n.starts_with(prefix) && n.ends_with(suffix)
        })
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn this_test_binary() -> PathBuf {
        std::env::current_exe().unwrap()
    }

    #[test]
    fn a_dynamically_linked_binary_needs_its_loader_and_libc() {
        let needs = runtime_needs(&this_test_binary(), None).unwrap();
        assert_eq!(
            needs.architecture,
            if cfg!(target_arch = "aarch64") {
                "arm64"
            } else {
                "amd64"
            }
        );
        let names: Vec<&str> = needs.files.iter().map(|f| f.image_path.as_str()).collect();
        assert!(
            names
                .iter()
                .any(|n| n.starts_with("/lib") && n.contains("ld-linux")),
            "{names:?}"
        );
        assert!(names.iter().any(|n| n.ends_with("/libc.so.6")), "{names:?}");
        for file in &needs.files {
            assert!(file.host_path.is_file(), "{file:?}");
        }
        // Debian's libraries live in the loader's system path: nothing extra.
        assert_eq!(needs.extra_library_dirs, Vec::<String>::new());
    }

    #[test]
    fn a_library_nowhere_in_the_search_path_is_a_missing_library_error() {
        let dirs = SearchDirs {
            configured: vec![],
            system: vec!["/nonexistent".into()],
        };
        let err = runtime_needs(&this_test_binary(), Some(&dirs)).unwrap_err();
        let AssembleError::MissingLibrary {
            library, searched, ..
        } = &err
        else {
            panic!("{err}")
        };
        assert!(library.starts_with("lib"), "{library}");
        assert_eq!(searched, "/nonexistent");
        assert!(
            err.to_string()
                .contains("install the package that provides it"),
            "{err}"
        );
    }

    #[test]
    fn a_library_outside_the_loaders_own_path_goes_into_ld_library_path() {
        let host = SearchDirs::of_host(Path::new("/lib64/ld-linux-x86-64.so.2"), elf::EM_X86_64);
        let libc_dir = host
            .all()
            .find(|d| Path::new(d).join("libc.so.6").is_file())
            .expect("libc.so.6 in the host's search path")
            .clone();
        let dirs = SearchDirs {
            configured: vec![libc_dir.clone()],
            system: vec!["/nonexistent".into()],
        };
        let needs = runtime_needs(&this_test_binary(), Some(&dirs)).unwrap();
        assert_eq!(needs.extra_library_dirs, vec![libc_dir]);
    }

    #[test]
    fn a_text_file_is_not_an_executable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("script");
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        let err = runtime_needs(&path, None).unwrap_err();
        assert!(
            matches!(err, AssembleError::NotAnExecutable { .. }),
            "{err}"
        );
    }

    #[test]
    fn origin_in_a_search_path_is_the_objects_directory() {
        assert_eq!(
            split_search_path("$ORIGIN/../lib:${ORIGIN}:/opt/x", "/app"),
            ["/app/../lib", "/app", "/opt/x"]
        );
    }
}
