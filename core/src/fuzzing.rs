//! Entry points for the fuzz targets in `fuzz/` (hidden from the documentation, not an API):
//! what a fuzz target needs that the public API does not offer — putting an enrolled account
//! in a store without a server, and reading the records that guard the accounts the way the
//! core reads them. Nothing here is used by the core itself.

use std::sync::Arc;

use crate::accounts::{Account, AccountBook};
use crate::platform::{SecureStore, StoreError};

/// Enrolls `account` in `store` as an activation would leave it: the account, its approval
/// record (counter `counter`, offline codes secret `codes_secret`) and the device record
/// pinning `server_key` (SEC1, base64url) with a clock offset of `clock_offset_secs`.
pub fn enroll(
    store: Arc<dyn SecureStore>,
    account: Account,
    server_key: &str,
    counter: u64,
    codes_secret: &[u8],
    clock_offset_secs: i64,
) -> Result<(), StoreError> {
    let book = AccountBook::new(store);
    book.update_device(|device| {
        device.server_key = Some(server_key.to_string());
        device.clock_offset_secs = Some(clock_offset_secs);
    })?;
    book.save_codes_secret(&account.credential_id, codes_secret)?;
    book.update_approval_state(&account.credential_id, |state| {
        for _ in 0..counter {
            state.next_counter();
        }
        state.mark_answered("seed-challenge");
    })?;
    // An account already there is kept as it was, as an activation would.
    book.add(account).map(|_| ())
}

/// Reads every record that guards the accounts in `store` as the core reads them — the
/// account list, the device record, each account's approval record and offline codes
/// secret — and changes the approval record of the first account once (the counter's
/// read-modify-write before a decision). Returns what was read, without secrets.
pub fn read_records(store: Arc<dyn SecureStore>) -> Result<String, StoreError> {
    let book = AccountBook::new(store);
    let accounts = book.list()?;
    let device = book.device()?;
    let mut seen = format!(
        "{} accounts; device {} key {}",
        accounts.len(),
        device.device_id.len(),
        device.server_key.is_some()
    );
    for account in &accounts {
        let state = book.approval_state(&account.credential_id)?;
        let secret = book.codes_secret(&account.credential_id)?;
        let found = book.by_credential(&account.credential_id)?.is_some();
        seen.push_str(&format!(
            "; {}: answered {} wrong picks {} secret {} found {found}",
            account.username,
            state.was_answered("seed-challenge"),
            state.wrong_picks_of("seed-challenge"),
            secret.map_or(0, |s| s.len()),
        ));
    }
    if let Some(first) = accounts.first() {
        let counter = book.update_approval_state(&first.credential_id, |s| s.next_counter())?;
        seen.push_str(&format!("; counter moved {}", counter > 0));
    }
    Ok(seen)
}
