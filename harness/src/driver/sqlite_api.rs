//! The part of SQLite's C API dbcompat uses, as a table of function pointers.
//!
//! Only one SQLite can be linked into a build, but any number can be loaded: the table
//! is filled either from the bundled library (the embedded target) or from a
//! `libsqlite3.so.0` opened at run time (other versions). One session implementation
//! (`driver::sqlite`) then serves every SQLite version.

use std::ffi::{c_char, c_int, c_uchar, c_void};
use std::path::Path;

use libsqlite3_sys as ffi;
pub use libsqlite3_sys::{sqlite3, sqlite3_stmt};

pub const SQLITE_OK: c_int = 0;
pub const SQLITE_ROW: c_int = 100;
pub const SQLITE_DONE: c_int = 101;
pub const SQLITE_INTEGER: c_int = 1;
pub const SQLITE_FLOAT: c_int = 2;
pub const SQLITE_TEXT: c_int = 3;
pub const SQLITE_BLOB: c_int = 4;
pub const OPEN_READWRITE: c_int = 0x2;
pub const OPEN_CREATE: c_int = 0x4;
pub const OPEN_NOMUTEX: c_int = 0x8000;

macro_rules! api {
    ($($field:ident = $symbol:ident : fn($($arg:ty),*) -> $ret:ty;)*) => {
        /// SQLite's functions, from one library.
        pub struct Api {
            $(pub $field: unsafe extern "C" fn($($arg),*) -> $ret,)*
            /// Keeps a loaded library mapped while its functions may be called.
            _library: Option<libloading::Library>,
            /// Where the functions come from, for messages.
            pub origin: String,
        }

        impl Api {
            /// The SQLite compiled into dbcompat.
            pub fn bundled() -> Api {
                Api { $($field: ffi::$symbol,)* _library: None, origin: "bundled".into() }
            }

            /// The SQLite in a shared library file.
            pub fn load(path: &Path) -> Result<Api, String> {
                // RTLD_DEEPBIND: the library's own calls bind to its own functions, never
                // to another SQLite already in the process.
                let flags = libc::RTLD_NOW | libc::RTLD_LOCAL | libc::RTLD_DEEPBIND;
                // SAFETY: loading SQLite runs no initialisers with preconditions.
                let library = unsafe { libloading::os::unix::Library::open(Some(path), flags) }
                    .map_err(|e| format!("cannot load {}: {e}", path.display()))?;
                let library = libloading::Library::from(library);
                // SAFETY: each symbol is looked up with SQLite's documented C signature.
                unsafe {
                    Ok(Api {
                        $($field: *library
                            .get::<unsafe extern "C" fn($($arg),*) -> $ret>(concat!(stringify!($symbol), "\0").as_bytes())
                            .map_err(|e| format!("{} lacks {}: {e}", path.display(), stringify!($symbol)))?,)*
                        _library: Some(library),
                        origin: path.display().to_string(),
                    })
                }
            }
        }
    };
}

api! {
    libversion = sqlite3_libversion: fn() -> *const c_char;
    open_v2 = sqlite3_open_v2: fn(*const c_char, *mut *mut sqlite3, c_int, *const c_char) -> c_int;
    close = sqlite3_close: fn(*mut sqlite3) -> c_int;
    extended_result_codes = sqlite3_extended_result_codes: fn(*mut sqlite3, c_int) -> c_int;
    busy_timeout = sqlite3_busy_timeout: fn(*mut sqlite3, c_int) -> c_int;
    interrupt = sqlite3_interrupt: fn(*mut sqlite3) -> ();
    errmsg = sqlite3_errmsg: fn(*mut sqlite3) -> *const c_char;
    extended_errcode = sqlite3_extended_errcode: fn(*mut sqlite3) -> c_int;
    changes = sqlite3_changes: fn(*mut sqlite3) -> c_int;
    total_changes = sqlite3_total_changes: fn(*mut sqlite3) -> c_int;
    prepare_v2 = sqlite3_prepare_v2: fn(*mut sqlite3, *const c_char, c_int, *mut *mut sqlite3_stmt, *mut *const c_char) -> c_int;
    step = sqlite3_step: fn(*mut sqlite3_stmt) -> c_int;
    finalize = sqlite3_finalize: fn(*mut sqlite3_stmt) -> c_int;
    column_count = sqlite3_column_count: fn(*mut sqlite3_stmt) -> c_int;
    column_name = sqlite3_column_name: fn(*mut sqlite3_stmt, c_int) -> *const c_char;
    column_type = sqlite3_column_type: fn(*mut sqlite3_stmt, c_int) -> c_int;
    column_int64 = sqlite3_column_int64: fn(*mut sqlite3_stmt, c_int) -> i64;
    column_double = sqlite3_column_double: fn(*mut sqlite3_stmt, c_int) -> f64;
    column_text = sqlite3_column_text: fn(*mut sqlite3_stmt, c_int) -> *const c_uchar;
    column_blob = sqlite3_column_blob: fn(*mut sqlite3_stmt, c_int) -> *const c_void;
    column_bytes = sqlite3_column_bytes: fn(*mut sqlite3_stmt, c_int) -> c_int;
}

impl Api {
    /// The library's own version, e.g. `3.46.1`.
    pub fn version(&self) -> String {
        // SAFETY: sqlite3_libversion returns a static NUL-terminated string.
        unsafe { std::ffi::CStr::from_ptr((self.libversion)()) }.to_string_lossy().into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_library_reports_its_version() {
        let v = Api::bundled().version();
        assert!(v.starts_with("3."), "{v}");
    }

    #[test]
    fn a_missing_library_is_an_error_naming_it() {
        let e = Api::load(Path::new("/nonexistent/libsqlite3.so.0")).err().unwrap();
        assert!(e.contains("/nonexistent/libsqlite3.so.0"), "{e}");
    }
}
