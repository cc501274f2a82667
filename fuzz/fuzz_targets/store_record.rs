//! The store's records as a thief, malware or a bad disk may leave them: the account list,
//! the device record, alice's approval record, the PIN record, the guard's manifest and the
//! plain records (notices, notification times, recovery offers, the key index), each one of
//! the input's parts (first byte: which record, `'a'` the first below; the rest: its bytes),
//! after the store's own generation (2 bytes). Read as the core reads them; damage must be a typed error, never a panic.
#![no_main]

use std::sync::Arc;

use ibkey_core::platform::{MemoryStore, SecureStore};
use ibkey_fuzz::{parts, phone_over, run, USER};
use libfuzzer_sys::fuzz_target;

const KEYS: [&str; 10] = [
    "accounts",
    "device",
    "approval.cred-alice",
    "gate",
    "guard",
    "notices",
    "notifications",
    "recovery",
    "keys",
    "approval.cred-bob",
];

fuzz_target!(|data: &[u8]| {
    let Some((generation, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let store = Arc::new(MemoryStore::new());
    for part in parts(rest) {
        if let Some((&which, value)) = part.split_first() {
            let key = KEYS[usize::from(which.wrapping_sub(b'a')) % KEYS.len()];
            let _ = store.save(key.to_string(), value.to_vec());
        }
    }
    let _ = store.raise_generation(u64::from(u16::from_le_bytes(*generation)));
    let shared: Arc<dyn SecureStore> = store.clone();
    let _ = ibkey_core::fuzzing::read_records(shared);
    let phone = phone_over(store, Vec::new(), false);
    let _ = phone.accounts().map_err(|e| e.to_string());
    let _ = phone.account(USER);
    let _ = phone.has_pin().map_err(|e| e.to_string());
    let _ = phone.pin_lockout().map_err(|e| e.to_string());
    let _ = phone.clock_offset_secs().map_err(|e| e.to_string());
    let _ = phone.take_move_notices().map_err(|e| e.to_string());
    let _ = run(phone.time_code(USER)).map_err(|e| e.to_string());
    let _ = run(phone.find_recoverable_accounts()).map_err(|e| e.to_string());
});
