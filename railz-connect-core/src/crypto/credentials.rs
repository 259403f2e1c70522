//! Sealing a connection's credentials: the one place [`Credentials`] are encrypted or decrypted.

use super::{CryptoError, Keyring, RecordBinding, RecordKind};
use crate::connection::Connection;
use crate::provider::Credentials;
use crate::store::SealedCredentials;

impl Keyring {
    /// Seals a connection's credentials with the primary key, bound to the connection's id,
    /// business and service: what a [`CredentialStore`](crate::store::CredentialStore) keeps,
    /// with the key id and the token expiries in plaintext beside the blob. A blob copied onto
    /// another connection does not open.
    pub fn seal_credentials(
        &self,
        connection: &Connection,
        credentials: &Credentials,
    ) -> Result<SealedCredentials, CryptoError> {
        let id = connection.id.to_string();
        let ids = [id.as_str(), connection.business_name.as_str(), connection.service_name.as_str()];
        let blob = self.seal(&RecordBinding::new(RecordKind::Credentials, &ids), &credentials.to_plaintext()?)?;
        Ok(SealedCredentials::new(blob, self.primary_key_id())
            .with_access_expires_at(credentials.access_expires_at())
            .with_refresh_expires_at(credentials.refresh_expires_at()))
    }

    /// Opens a blob [`Keyring::seal_credentials`] sealed for this connection.
    pub fn open_credentials(&self, connection: &Connection, blob: &[u8]) -> Result<Credentials, CryptoError> {
        let id = connection.id.to_string();
        let ids = [id.as_str(), connection.business_name.as_str(), connection.service_name.as_str()];
        Credentials::from_plaintext(&self.open(&RecordBinding::new(RecordKind::Credentials, &ids), blob)?)
    }
}
