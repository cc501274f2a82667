//! An account moved to another phone: the server's signed word ([`MovedClaims`]), checked
//! before the account is forgotten here, and the notices kept for the user.

use serde::{Deserialize, Serialize};

use super::human_utc;
use crate::api::ApiError;
use crate::device::Device;
use crate::error::ErrorCode;
use crate::platform::StoreError;
use crate::Account;
use ibkey_protocol::lifecycle::{codes, MovedClaims};

/// The plain store record of the notices not yet shown.
const NOTICES_KEY: &str = "notices";

/// An account this phone forgot because its user moved IB Key to another phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct MoveNotice {
    /// The user.
    pub username: String,
    /// The name of the device the user moved to.
    pub to_device: String,
    /// When, Unix seconds.
    pub moved_at: i64,
    /// What to tell the user: "IB Key for alice was moved to 'Pixel 9' on 2 Dec 2026 at
    /// 10:14 UTC. …".
    pub message: String,
}

impl MoveNotice {
    /// The notice of what `claims` say.
    pub(crate) fn of(claims: &MovedClaims) -> Self {
        MoveNotice {
            message: format!(
                "IB Key for {user} was moved to '{to}' on {at}. This phone no longer approves \
                 {user}'s logins. If you did not move it, contact support at once.",
                user = claims.usr,
                to = claims.to,
                at = human_utc(claims.at),
            ),
            username: claims.usr.clone(),
            to_device: claims.to.clone(),
            moved_at: claims.at,
        }
    }
}

impl Device {
    /// When `error` is the server's signed word that `account` moved to another phone:
    /// forgets the account here (its approval record and device key too), keeps a notice
    /// for the user and returns it. Anything else — another error, or a word that is not the
    /// server's or not about this account — changes nothing.
    pub(crate) async fn moved_away(
        &self,
        account: &Account,
        error: &ApiError,
    ) -> Option<MoveNotice> {
        let ApiError::Refused {
            code,
            moved: Some(token),
            ..
        } = error
        else {
            return None;
        };
        if code != codes::CREDENTIAL_MOVED {
            return None;
        }
        let claims = match self.verify_server_token::<MovedClaims>(token).await {
            Ok(claims) if claims.cid == account.credential_id && claims.usr == account.username => {
                claims
            }
            Ok(_) => {
                tracing::warn!("the server's word of a move is about another account; ignored");
                return None;
            }
            Err(e) => {
                tracing::warn!(error = ?e, "the server's word of a move does not check out; ignored");
                return None;
            }
        };
        let notice = MoveNotice::of(&claims);
        if let Err(e) = self.forget_moved(account, &notice) {
            tracing::warn!(
                code = e.code(),
                "the moved account could not be forgotten yet"
            );
        }
        tracing::info!(user = %account.username, "account moved to another device; forgotten here");
        Some(notice)
    }

    /// Removes a moved account and its key, and keeps its notice.
    fn forget_moved(&self, account: &Account, notice: &MoveNotice) -> Result<(), StoreError> {
        self.book
            .update_plain_record(NOTICES_KEY, |notices: &mut Vec<MoveNotice>| {
                notices.retain(|n| n.username != notice.username);
                notices.push(notice.clone());
            })?;
        self.book.remove(&account.username)?;
        if let Err(e) = self.platform.keys.delete_key(account.key_alias.clone()) {
            tracing::warn!(error = %e, "the moved account's key could not be deleted");
        }
        Ok(())
    }

    /// The notices of accounts moved away not yet shown, oldest first; they are forgotten
    /// once returned.
    pub(crate) fn take_move_notices(&self) -> Result<Vec<MoveNotice>, StoreError> {
        self.book
            .update_plain_record(NOTICES_KEY, |notices: &mut Vec<MoveNotice>| {
                std::mem::take(notices)
            })
    }
}
