//! The server's secret, kept outside the database: the key of the suppression list's hashes, of the
//! verification codes' hashes, and of the secrets a queued mail carries. A copy of the database alone
//! therefore yields no code, no status token and nothing to recognise an erased person by.
use crate::erasure::SuppressionKey;
use hmac::{Hmac, Mac};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sha2::Sha256;
use std::sync::Arc;

#[derive(Clone)]
pub struct ServerSecret(Arc<[u8]>);

/// Why the server's secret could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("reading the server's secret: {0}")]
    Io(#[from] std::io::Error),
    #[error(
        "the server's secret {0} is shorter than 32 characters: restore it from a backup (or set \
         INSYN_SECRET_KEY); a new one would not open what the old one keyed"
    )]
    Short(String),
    #[error(
        "no server secret at {0}, but the database holds requests, erasures or sealed mail keyed \
         with one: run from the service's directory, or set INSYN_DATA_DIR or INSYN_SECRET_KEY"
    )]
    Missing(String),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

/// Whether two secrets are the same, in time that depends on their lengths only: how far a guess
/// matches must not show in how long it takes to refuse it.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && std::hint::black_box(a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y))) == 0
}

/// The key file's key, if it holds a whole one.
fn read_key(path: &std::path::Path) -> Result<ServerSecret, KeyError> {
    let text = std::fs::read_to_string(path)?;
    let key = text.trim();
    if key.len() < 32 {
        return Err(KeyError::Short(path.display().to_string()));
    }
    Ok(ServerSecret::new(key.as_bytes()))
}

/// Whether the database holds anything a server secret keyed: a request (its code's hash), an
/// entry of the suppression list, or a mail with a sealed secret.
async fn keyed(db: &sea_orm::DatabaseConnection) -> Result<bool, sea_orm::DbErr> {
    use entities::{outbox, request, suppression};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    Ok(request::Entity::find().one(db).await?.is_some()
        || suppression::Entity::find().one(db).await?.is_some()
        || outbox::Entity::find()
            .filter(outbox::Column::SecretSealed.is_not_null())
            .one(db)
            .await?
            .is_some())
}

impl std::fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerSecret(***)")
    }
}

impl ServerSecret {
    pub fn new(secret: &[u8]) -> ServerSecret {
        ServerSecret(secret.into())
    }

    /// The configured secret, or else the key file in the data directory, created (readable by the
    /// owner only) on first start. Keep it with the database's backups: without it a later import
    /// cannot recognise what was erased, and mail queued but not yet sent cannot be sent.
    ///
    /// A key is made only for a database that holds nothing keyed yet (no request, no erasure, no
    /// sealed mail): a command run from another directory, whose relative `data_dir` has no key
    /// file, must not quietly key its work with a new one. A key file shorter than 32 characters
    /// (an empty one left by a crash) stops the start rather than being used.
    pub async fn load(
        settings: &crate::config::Settings,
        db: &sea_orm::DatabaseConnection,
    ) -> Result<ServerSecret, KeyError> {
        if let Some(secret) = &settings.secret_key {
            return Ok(ServerSecret::new(secret.as_bytes()));
        }
        let dir = std::path::Path::new(&settings.data_dir);
        let path = dir.join("secret.key");
        match read_key(&path) {
            Ok(key) => return Ok(key),
            Err(KeyError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        if keyed(db).await? {
            return Err(KeyError::Missing(path.display().to_string()));
        }
        std::fs::create_dir_all(dir)?;
        // Written whole under a name of its own, then linked into place: the key file either
        // does not exist or holds a whole key, and of two processes starting at once one wins.
        let secret = hex::encode(rand::random::<[u8; 32]>());
        let partial = dir.join(format!(
            "secret.key.{}",
            hex::encode(rand::random::<[u8; 6]>())
        ));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let written = options.open(&partial).and_then(|mut f| {
            use std::io::Write;
            f.write_all(secret.as_bytes())?;
            f.sync_all()
        });
        let linked = written.and_then(|()| std::fs::hard_link(&partial, &path));
        let _ = std::fs::remove_file(&partial);
        match linked {
            Ok(()) => {
                if let Ok(d) = std::fs::File::open(dir) {
                    let _ = d.sync_all();
                }
                tracing::info!(path = %path.display(), "made a new server secret");
                Ok(ServerSecret::new(secret.as_bytes()))
            }
            // Another process made it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key(&path),
            Err(e) => Err(e.into()),
        }
    }

    /// The suppression list's key is the secret itself, as it was before the secret served more:
    /// the hashes already on the list stay valid.
    pub fn suppression(&self) -> SuppressionKey {
        SuppressionKey::new(&self.0)
    }

    /// A key of its own for each use, so that no value made for one use is worth anything in another.
    fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key");
        m.update(purpose.as_bytes());
        m.finalize().into_bytes().into()
    }

    /// A verification code's hash, bound to its request. Keyed: there are only 10^8 codes, so a
    /// plain hash would give the code to anyone holding a copy of the database.
    pub fn code_hash(&self, request_id: i64, code: &str) -> String {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.derive("insyn/verification-code"))
            .expect("HMAC takes any key");
        m.update(format!("{request_id}:{}", code.trim()).as_bytes());
        hex::encode(m.finalize().into_bytes())
    }

    fn mail_key(&self) -> LessSafeKey {
        let key = UnboundKey::new(&CHACHA20_POLY1305, &self.derive("insyn/mail-secret"))
            .expect("a 32-byte key");
        LessSafeKey::new(key)
    }

    /// Seals the secret a mail carries (a code, a status token), bound to its outbox row and its
    /// recipient: hex of a random nonce and the ciphertext with its tag.
    pub fn seal_mail_secret(&self, outbox_id: i64, recipient: &str, secret: &str) -> String {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let mut sealed = secret.as_bytes().to_vec();
        self.mail_key()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(mail_aad(outbox_id, recipient)),
                &mut sealed,
            )
            .expect("sealing a short secret cannot fail");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        hex::encode(out)
    }

    /// The secret [`Self::seal_mail_secret`] sealed; `None` when it was sealed with another server
    /// secret, for another row or recipient, or was altered.
    pub fn open_mail_secret(
        &self,
        outbox_id: i64,
        recipient: &str,
        sealed: &str,
    ) -> Option<String> {
        let bytes = hex::decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let mut buf = rest.to_vec();
        let plain = self
            .mail_key()
            .open_in_place(
                Nonce::try_assume_unique_for_key(nonce).ok()?,
                Aad::from(mail_aad(outbox_id, recipient)),
                &mut buf,
            )
            .ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

fn mail_aad(outbox_id: i64, recipient: &str) -> Vec<u8> {
    format!("{outbox_id}\0{recipient}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_compared_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"ab"));
        assert!(same_secret(b"", b""));
    }

    #[test]
    fn a_mail_secret_opens_only_with_its_key_row_and_recipient() {
        let key = ServerSecret::new(b"a-server-secret-of-32-chars-or-more");
        let sealed = key.seal_mail_secret(7, "anna@example.se", "12345678");
        assert!(!sealed.contains("12345678"));
        assert_eq!(
            key.open_mail_secret(7, "anna@example.se", &sealed)
                .as_deref(),
            Some("12345678")
        );
        // A fresh nonce each time: two seals of one secret differ.
        assert_ne!(
            sealed,
            key.seal_mail_secret(7, "anna@example.se", "12345678")
        );
        assert_eq!(key.open_mail_secret(8, "anna@example.se", &sealed), None);
        assert_eq!(key.open_mail_secret(7, "bo@example.se", &sealed), None);
        let other = ServerSecret::new(b"another-server-secret-of-32-chars");
        assert_eq!(other.open_mail_secret(7, "anna@example.se", &sealed), None);
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'0' { b'1' } else { b'0' };
        let altered = String::from_utf8(altered).unwrap();
        assert_eq!(key.open_mail_secret(7, "anna@example.se", &altered), None);
        assert_eq!(key.open_mail_secret(7, "anna@example.se", "zz"), None);
        assert_eq!(key.open_mail_secret(7, "anna@example.se", ""), None);
    }

    #[test]
    fn a_code_hash_needs_the_key_and_is_bound_to_its_request() {
        let key = ServerSecret::new(b"one key");
        let other = ServerSecret::new(b"another key");
        assert_eq!(key.code_hash(1, "12345678"), key.code_hash(1, " 12345678 "));
        assert_ne!(key.code_hash(1, "12345678"), key.code_hash(2, "12345678"));
        assert_ne!(key.code_hash(1, "12345678"), other.code_hash(1, "12345678"));
        // Not the unkeyed hash an earlier version stored, which a copy of the database could
        // be searched against.
        assert_ne!(
            key.code_hash(1, "12345678"),
            crate::requests::rules::unkeyed_code_hash(1, "12345678")
        );
    }

    #[test]
    fn the_suppression_key_is_the_secret_itself() {
        let key = ServerSecret::new(b"one key");
        assert_eq!(
            key.suppression().record(1, "1_10"),
            SuppressionKey::new(b"one key").record(1, "1_10")
        );
    }
}
