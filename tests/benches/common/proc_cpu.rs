//! CPU time from `/proc`, in ticks of 10 ms (`sysconf(_SC_CLK_TCK)` is 100 on Linux).

/// This process's `utime + stime`.
pub(crate) fn self_ticks() -> u64 {
    stat("/proc/self/stat".as_ref()).map_or(0, |(_, t)| t)
}

/// The ticks of the PostgreSQL cluster whose postmaster is `master`: it and the processes
/// it started (its backends live as long as their connections).
pub(crate) fn cluster_ticks(master: u32) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut total = 0;
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Some((parent, ticks)) = stat(&entry.path().join("stat"))
            && (pid == master || parent == master)
        {
            total += ticks;
        }
    }
    total
}

/// A process's parent and `utime + stime`, from its `stat` file.
fn stat(path: &std::path::Path) -> Option<(u32, u64)> {
    let text = std::fs::read_to_string(path).ok()?;
    // The command name may hold spaces: fields are counted after its `)`.
    let close = text.rfind(')')?;
    let fields: Vec<&str> = text[close + 2..].split(' ').collect();
    // From the state (field 3): ppid is field 4, utime 14, stime 15.
    let parent = fields.get(1)?.parse::<u32>().ok()?;
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((parent, ticks))
}
