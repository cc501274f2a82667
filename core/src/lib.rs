//! ibkey-core: the logic of a mobile two-factor authenticator, written once for every
//! platform. Shells (Android, iOS, the desktop CLI) supply the platform services through the
//! traits in [`platform`]; everything else lives here.

pub mod activation;
pub mod protocol;
