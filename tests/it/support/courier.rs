//! A private Courier IMAP 5 for one test, configured as a hosting provider
//! runs it: Maildir++ folders under `INBOX.` with `.` as separator,
//! Drafts, Sent and Trash made and subscribed for every user, users in a
//! userdb with hashed passwords, authentication through authdaemond.
//! Courier keeps Debian's defaults otherwise, except that it does not
//! purge old messages from Trash at logout (`IMAP_EMPTYTRASH`), which
//! would delete migrated mail.
//!
//! Courier's binaries have compiled-in paths (`/etc/courier`,
//! `/run/courier`, `/usr/lib/courier-authlib`, `/usr/lib/courier`): the
//! server runs in a private mount namespace (`unshare --mount`) where
//! read-only overlays add those directories and bind mounts point them at
//! the temporary directory and at the packages unpacked by
//! `scripts/install-deps.sh`. The host's directories are not touched.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::server::{
    Kind, MailServer, find_binary, free_port, greets, kill_group, mail_owner, private_prefix,
};

/// Folders every user gets (subscribed), as a provider makes them.
pub const AUTO_FOLDERS: &[&str] = &["Drafts", "Sent", "Trash"];

/// Compiled-in directories and what they are bound to: `None` for the
/// temporary directory's own copy (same name below it).
const COMPILED_IN: &[(&str, Option<&str>)] = &[
    ("/etc/courier", None),
    ("/run/courier", None),
    ("/usr/lib/courier-authlib", Some("usr/lib/courier-authlib")),
    ("/usr/lib/courier", Some("usr/lib/courier")),
];

/// A running Courier.
pub struct Courier {
    child: Child,
    dir: TempDir,
    imap_port: u16,
    users: Vec<(String, String)>,
}

impl Courier {
    /// Starts a server with these users and passwords and waits until it
    /// greets. Panics if Courier is not unpacked or does not come up.
    pub fn start(users: &[(&str, &str)]) -> Courier {
        Courier::start_with(users, AUTO_FOLDERS)
    }

    /// Starts a server whose users have no folder besides INBOX, as new
    /// accounts made by `maildirmake` alone.
    pub fn start_bare(users: &[(&str, &str)]) -> Courier {
        Courier::start_with(users, &[])
    }

    fn start_with(users: &[(&str, &str)], folders: &[&str]) -> Courier {
        let mut last_error = String::new();
        for _ in 0..4 {
            match Courier::try_start(users, folders) {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("courier did not start: {last_error}");
    }

    fn try_start(users: &[(&str, &str)], folders: &[&str]) -> Result<Courier, String> {
        let prefix = private_prefix().join("courier");
        if !prefix.join("usr/bin/imapd").is_file() {
            return Err(format!(
                "{} has no Courier: run scripts/install-deps.sh",
                prefix.display()
            ));
        }
        let unshare =
            find_binary("unshare").ok_or_else(|| "unshare not found (util-linux)".to_string())?;
        let dir = tempfile::Builder::new()
            .prefix("mailshift-courier-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let base = dir.path();
        fs::set_permissions(base, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
        let mkdir = |p: PathBuf| fs::create_dir_all(p).map_err(|e| e.to_string());
        mkdir(base.join("etc/courier"))?;
        mkdir(base.join("run/courier/authdaemon"))?;
        // Empty mount points, overlaid on their parents.
        for (path, _) in COMPILED_IN {
            mkdir(base.join("mountpoints").join(&path[1..]))?;
        }
        fs::write(
            base.join("etc/courier/authdaemonrc"),
            "authmodulelist=\"authuserdb\"\ndaemons=2\n\
             authdaemonvar=/run/courier/authdaemon\nDEBUG_LOGIN=0\n\
             DEFAULTOPTIONS=\"\"\nLOGGEROPTS=\"\"\n",
        )
        .map_err(|e| e.to_string())?;
        make_users(&prefix, base, users, folders)?;
        let port = free_port();
        let script = start_script(&prefix, base, port);
        fs::write(base.join("start.sh"), script).map_err(|e| e.to_string())?;

        let log = fs::File::create(base.join("stderr.log")).map_err(|e| e.to_string())?;
        let child = Command::new(&unshare)
            .args(["--mount", "--propagation", "private", "sh"])
            .arg(base.join("start.sh"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("spawn unshare: {e}"))?;
        let mut server = Courier {
            child,
            dir,
            imap_port: port,
            users: users
                .iter()
                .map(|(u, p)| (u.to_string(), p.to_string()))
                .collect(),
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("exited with {status}: {}", server.log()));
            }
            if greets(port) {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(format!("not ready after 15s: {}", server.log()));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// A user's Maildir.
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.dir.path().join("mail").join(user).join("Maildir")
    }
}

impl MailServer for Courier {
    fn kind(&self) -> Kind {
        Kind::Courier
    }

    fn imap_port(&self) -> u16 {
        self.imap_port
    }

    fn password(&self, user: &str) -> &str {
        self.users
            .iter()
            .find(|(u, _)| u == user)
            .map(|(_, p)| p.as_str())
            .unwrap_or_else(|| panic!("unknown test user {user}"))
    }

    fn prefix(&self) -> &str {
        "INBOX."
    }

    fn separator(&self) -> char {
        '.'
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for Courier {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}

/// Writes the userdb source (compiled by `makeuserdb` at start) and makes
/// each user's Maildir with these folders, subscribed.
fn make_users(
    prefix: &Path,
    base: &Path,
    users: &[(&str, &str)],
    folders: &[&str],
) -> Result<(), String> {
    let openssl = find_binary("openssl")
        .ok_or_else(|| "openssl not found: run scripts/install-deps.sh".to_string())?;
    let (uid, gid) = mail_owner();
    let maildirmake = prefix.join("usr/bin/maildirmake.courier");
    let mut userdb = String::new();
    for (user, password) in users {
        let out = Command::new(&openssl)
            .args(["passwd", "-6", password])
            .output()
            .map_err(|e| format!("run openssl: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let hash = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let home = base.join("mail").join(user);
        let maildir = home.join("Maildir");
        fs::create_dir_all(&home).map_err(|e| e.to_string())?;
        let run = |args: &[&str], target: &Path| -> Result<(), String> {
            let out = Command::new(&maildirmake)
                .args(args)
                .arg(target)
                .output()
                .map_err(|e| format!("run maildirmake: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(String::from_utf8_lossy(&out.stderr).into_owned())
            }
        };
        run(&[], &maildir)?;
        for folder in folders {
            run(&["-f", folder], &maildir)?;
        }
        let subscribed: String = folders.iter().map(|f| format!("INBOX.{f}\n")).collect();
        fs::write(maildir.join("courierimapsubscribed"), subscribed).map_err(|e| e.to_string())?;
        chown_tree(&home, uid, gid)?;
        userdb.push_str(&format!(
            "{user}\tuid={uid}|gid={gid}|home={}|mail={}|systempw={hash}\n",
            home.display(),
            maildir.display()
        ));
    }
    let path = base.join("etc/courier/userdb");
    fs::write(&path, userdb).map_err(|e| e.to_string())?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).map_err(|e| e.to_string())
}

fn chown_tree(path: &Path, uid: u32, gid: u32) -> Result<(), String> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|e| e.to_string())?;
    if path.is_dir() {
        for entry in fs::read_dir(path).map_err(|e| e.to_string())? {
            let entry = entry.map_err(|e| e.to_string())?;
            chown_tree(&entry.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// The shell script run inside the private mount namespace: mounts,
/// `makeuserdb`, authdaemond, then couriertcpd in the foreground.
fn start_script(prefix: &Path, base: &Path, port: u16) -> String {
    let (p, b) = (prefix.display(), base.display());
    let mut script = String::from("set -e\n");
    // Read-only overlays that add the empty mount points to their parents.
    let mut parents: Vec<&str> = COMPILED_IN
        .iter()
        .map(|(path, _)| &path[..path.rfind('/').unwrap_or(0)])
        .collect();
    parents.sort_unstable();
    parents.dedup();
    for parent in parents {
        script.push_str(&format!(
            "mount -t overlay overlay -o lowerdir={b}/mountpoints{parent}:{parent} {parent}\n"
        ));
    }
    for (path, source) in COMPILED_IN {
        let source = match source {
            Some(inside) => format!("{p}/{inside}"),
            None => format!("{b}{path}"),
        };
        script.push_str(&format!("mount --bind {source} {path}\n"));
    }
    script.push_str(&format!(
        "export LD_LIBRARY_PATH={p}/usr/lib
cd /etc/courier
{p}/usr/sbin/makeuserdb
{p}/usr/lib/courier/courier-authlib/authdaemond &
while [ ! -S /run/courier/authdaemon/socket ]; do sleep 0.05; done
exec env -i LD_LIBRARY_PATH={p}/usr/lib PATH=/usr/bin:/bin \\
  IMAP_CAPABILITY='IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE' \\
  IMAP_KEYWORDS=1 IMAP_ACL=1 IMAP_ENHANCEDIDLE=0 IMAP_USELOCKS=1 IMAP_UMASK=022 \\
  IMAP_TRASHFOLDERNAME=Trash IMAP_EMPTYTRASH= IMAP_MOVE_EXPUNGE_TO_TRASH=0 \\
  IMAP_MAILBOX_SANITY_CHECK=1 IMAP_IDLE_TIMEOUT=60 MAILDIRPATH=Maildir \\
  {p}/usr/sbin/couriertcpd -address=127.0.0.1 -nodnslookup -noidentlookup \\
  -maxprocs=400 -maxperip=400 {port} \\
  {p}/usr/lib/courier/courier/imaplogin {p}/usr/bin/imapd Maildir
"
    ));
    script
}
