//! Widget sessions and generated business names.

use time::OffsetDateTime;

use super::outcome::{ServiceSummary, SessionInfo, SessionRequest, WidgetSession};
use super::seal::SessionClaims;
use super::{Connect, without_landing_params};
use crate::connection::ConnectionFilter;
use crate::error::Error;
use crate::ids::{BusinessName, WidgetId};
use crate::provider::ProviderExt;
use crate::secret::SessionToken;
use crate::store::{BusinessRecord, Page};

impl Connect {
    /// Opens a widget session (server side, before showing the widget): reserves the given
    /// business name, or generates a unique one, and returns the sealed session token, the
    /// services the widget offers and the business's existing connections (the first
    /// [`Page::MAX_LIMIT`]).
    ///
    /// A business name belongs to the widget that first reserved it: a session of another
    /// widget for it fails with [`Error::BusinessOfAnotherWidget`], so one widget can neither
    /// see nor extend another's connections.
    #[tracing::instrument(skip_all, fields(widget_id = %widget_id))]
    pub async fn create_session(&self, widget_id: &WidgetId, request: SessionRequest) -> Result<WidgetSession, Error> {
        let widget = self.widget(widget_id)?;
        let now = self.now();
        let (business_name, generated) = match request.business_name {
            Some(name) => {
                let record = BusinessRecord::new(name.clone(), widget_id.clone(), now);
                if !self.inner.store.reserve_business(&record).await? {
                    // Known already: only through the widget that reserved it.
                    let owner = self.inner.store.get_business(&name).await?.map(|b| b.widget_id);
                    if owner.as_ref() != Some(widget_id) {
                        tracing::warn!(business_name = %name, "session refused: the business belongs to another widget");
                        return Err(Error::BusinessOfAnotherWidget { business: name, widget: widget_id.clone() });
                    }
                }
                (name, false)
            }
            None => (self.generate_business_name(widget_id).await?, true),
        };
        let redirect = request.redirect_url.map(|u| without_landing_params(widget.success_landing(Some(&u))));
        let expires_at = now + self.inner.session_ttl;
        let claims = SessionClaims {
            w: widget_id.clone(),
            b: business_name.clone(),
            r: redirect,
            e: expires_at.unix_timestamp(),
        };
        let token = self.sealer().seal_session(&claims)?;
        let services = self.services(widget_id)?;
        let filter = ConnectionFilter::all().with_widget(widget_id.clone()).with_business(business_name.clone());
        let connections = self.inner.store.list_connections(&filter, &Page::first(Page::MAX_LIMIT)).await?;
        tracing::debug!(business_name = %business_name, generated, "widget session created");
        Ok(WidgetSession {
            token,
            widget_id: widget_id.clone(),
            business_name,
            generated,
            expires_at,
            services,
            connections,
        })
    }

    /// The services a widget offers, in registry order (what a service picker shows; no
    /// session needed: the list is not secret).
    pub fn services(&self, widget_id: &WidgetId) -> Result<Vec<ServiceSummary>, Error> {
        let widget = self.widget(widget_id)?;
        Ok(self
            .inner
            .registry
            .iter()
            .filter(|p| widget.offers(p.service_name()))
            .map(|p| ServiceSummary::of(p.metadata()))
            .collect())
    }

    /// Opens a session token: its widget, business and expiry. Fails like
    /// [`Connect::begin`] on a forged, malformed or expired token
    /// ([`Error::InvalidSession`]).
    pub fn session_info(&self, token: &SessionToken) -> Result<SessionInfo, Error> {
        let claims = self.sealer().open_session(token, self.now())?;
        Ok(SessionInfo {
            widget_id: claims.w,
            business_name: claims.b,
            expires_at: OffsetDateTime::from_unix_timestamp(claims.e)
                .map_err(|_| Error::InvalidSession(crate::error::SessionError::Malformed))?,
        })
    }

    /// Generates a business name and reserves it in the store for `widget_id`, drawing again
    /// while the store says it is taken.
    pub async fn generate_business_name(&self, widget_id: &WidgetId) -> Result<BusinessName, Error> {
        let now = self.now();
        for _ in 0..16 {
            let candidate = (self.inner.name_generator.0)();
            let record = BusinessRecord::new(candidate.clone(), widget_id.clone(), now);
            if self.inner.store.reserve_business(&record).await? {
                return Ok(candidate);
            }
            tracing::debug!("generated business name was taken; drawing again");
        }
        Err(Error::BusinessNameExhausted)
    }
}
