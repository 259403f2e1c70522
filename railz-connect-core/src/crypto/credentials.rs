//! Sealing a connection's tokens: the one place a [`TokenSet`] is encrypted or decrypted.

use super::{CryptoError, Keyring, RecordBinding};
use crate::connection::Connection;
use crate::provider::TokenSet;

impl Keyring {
    /// Seals a connection's tokens with the primary key, bound to the connection's id,
    /// business and service: the blob a [`CredentialStore`](crate::store::CredentialStore)
    /// keeps. A blob copied onto another connection does not open.
    pub fn seal_credentials(&self, connection: &Connection, tokens: &TokenSet) -> Result<Vec<u8>, CryptoError> {
        let id = connection.id.to_string();
        let ids = [id.as_str(), connection.business_name.as_str(), connection.service_name.as_str()];
        self.seal(&RecordBinding::new("credentials", &ids), &tokens.to_plaintext()?)
    }

    /// Opens what [`Keyring::seal_credentials`] sealed for this connection.
    pub fn open_credentials(&self, connection: &Connection, blob: &[u8]) -> Result<TokenSet, CryptoError> {
        let id = connection.id.to_string();
        let ids = [id.as_str(), connection.business_name.as_str(), connection.service_name.as_str()];
        TokenSet::from_plaintext(&self.open(&RecordBinding::new("credentials", &ids), blob)?)
    }
}
