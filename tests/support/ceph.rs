//! One throw-away single-node Ceph (monitor, one memstore OSD, radosgw on
//! 127.0.0.1) shared by every replication test of this test binary: the
//! recipe in `tests/support/ceph/` (ceph-up.sh from ../shared/recipes/ceph),
//! started on first use with a folder and ports of its own, without a
//! manager (`WITH_MGR=0`), and stopped by `ceph-down.sh` when the test
//! process exits. Each test uses its own bucket.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use mailseal::replica::S3;

/// The recipe's test user (ceph-up.sh creates it).
pub const ACCESS_KEY: &str = "MAILSEALTESTACCESS01";
/// Its secret.
pub const SECRET_KEY: &str = "mailsealtestsecretkey0000000000000000000";

/// The running cluster.
pub struct Ceph {
    /// `http://127.0.0.1:PORT` of radosgw.
    pub endpoint: String,
    /// The cluster's folder (`CEPH_DIR`).
    pub dir: PathBuf,
}

static CLUSTER: OnceLock<Ceph> = OnceLock::new();

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/ceph")
}

/// The shared cluster, started on first use (about 20 s).
pub fn cluster() -> &'static Ceph {
    CLUSTER.get_or_init(start)
}

fn start() -> Ceph {
    assert!(
        Command::new("radosgw").arg("--version").output().is_ok(),
        "radosgw is not installed: run ./.ci/install-deps (Ceph packages)"
    );
    let dir = PathBuf::from(format!("/tmp/mailseal-test-ceph-{}", std::process::id()));
    let port = |_: u8| crate::support::smtp::free_port().to_string();
    let rgw = port(0);
    let out = Command::new(scripts().join("ceph-up.sh"))
        .env("CEPH_DIR", &dir)
        .env("WITH_MGR", "0")
        .env("OBJECTSTORE", "memstore")
        .env("MEMSTORE_BYTES", "1073741824")
        .env("MON_V2", port(1))
        .env("MON_V1", port(2))
        .env("RGW_PORT", &rgw)
        .output()
        .unwrap();
    // Registered before the check: a half-started cluster is stopped too.
    let _ = DIR_FOR_EXIT.set(dir.clone());
    // SAFETY: `stop_at_exit` is an `extern "C" fn()` that only spawns a
    // process; registering it has no other effect.
    unsafe {
        libc::atexit(stop_at_exit);
    }
    assert!(
        out.status.success(),
        "ceph-up.sh failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ceph {
        endpoint: format!("http://127.0.0.1:{rgw}"),
        dir,
    }
}

static DIR_FOR_EXIT: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn stop_at_exit() {
    if let Some(dir) = DIR_FOR_EXIT.get() {
        let _ = Command::new(scripts().join("ceph-down.sh"))
            .env("CEPH_DIR", dir)
            .output();
    }
}

impl Ceph {
    /// A client for `bucket` with the test user's credentials.
    pub fn s3(&self, bucket: &str) -> S3 {
        S3::new(
            &self.endpoint,
            "us-east-1",
            bucket,
            true,
            None,
            (ACCESS_KEY.to_owned(), SECRET_KEY.to_owned()),
        )
        .unwrap()
    }

    /// Creates `bucket`, with Object Lock when `lock`.
    pub fn bucket(&self, bucket: &str, lock: bool) -> S3 {
        let s3 = self.s3(bucket);
        block_on(s3.create_bucket(lock)).unwrap();
        s3
    }

    /// Writes the credentials file the `[[replica]]` blocks use.
    pub fn credentials_file(&self, dir: &Path) -> PathBuf {
        let f = dir.join("replica.secret");
        std::fs::write(&f, format!("{ACCESS_KEY}:{SECRET_KEY}\n")).unwrap();
        f
    }

    /// Stops radosgw (SIGKILL, by its PID file) and starts it again once
    /// `down` has run; the monitor and OSD keep running, so no data is lost.
    pub fn restart_gateway(&self, down: impl FnOnce()) {
        let pid_file = self.dir.join("run/client.rgw.a.pid");
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let pid = pid.trim().to_owned();
        assert!(
            Command::new("kill")
                .args(["-KILL", &pid])
                .status()
                .unwrap()
                .success()
        );
        while Path::new(&format!("/proc/{pid}")).exists() {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        down();
        let status = Command::new("radosgw")
            .args(["-n", "client.rgw.a"])
            .env("CEPH_CONF", self.dir.join("ceph.conf"))
            .status()
            .unwrap();
        assert!(status.success());
        crate::support::wait_until("radosgw answering again", || {
            block_on(self.s3("none").list(""))
                .err()
                .and_then(|e| e.status())
                .map(drop)
        });
    }
}

/// Runs a future of the S3 client on a small runtime of its own.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}
