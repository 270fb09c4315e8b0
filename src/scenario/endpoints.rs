//! Endpoint names scenarios use and the reference paths they stand for
//! (semantics.md, "Three systems" and "Reference fixture"). A target profile
//! may map any name to its own path; the reference server serves these.

use super::model::Profile;

/// One named endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub name: &'static str,
    pub path: &'static str,
    pub profile: Profile,
}

macro_rules! endpoints {
    ($($name:literal $path:literal $profile:ident;)*) => {
        /// Every standard endpoint name with its reference path.
        pub const ENDPOINTS: &[Endpoint] = &[$(Endpoint { name: $name, path: $path, profile: Profile::$profile }),*];
    };
}

endpoints! {
    "server_info" "/arcgis/rest/info" ArcgisToken;
    "generate_token" "/arcgis/tokens/generateToken" ArcgisToken;
    "services_root" "/arcgis/rest/services" ArcgisToken;
    "secured_service" "/arcgis/rest/services/SampleWorldCities/MapServer" ArcgisToken;
    "restricted_service" "/arcgis/rest/services/Restricted/MapServer" ArcgisToken;
    "public_service" "/arcgis/rest/services/Public/MapServer" ArcgisToken;
    "geocode_service" "/arcgis/rest/services/World/GeocodeServer" ArcgisToken;
    "portal_info" "/sharing/rest/info" ArcgisToken;
    "portal_generate_token" "/sharing/rest/generateToken" ArcgisToken;
    "portal_self" "/sharing/rest/portals/self" ArcgisToken;
    "community_self" "/sharing/rest/community/self" ArcgisToken;
    "federated_info" "/federated/rest/info" ArcgisToken;
    "federated_service" "/federated/rest/services/SampleWorldCities/MapServer" ArcgisToken;
    "arcweb" "/services/v2006_1/restmap" Arcweb2006;
    "session_start" "/arcgis/rest/services/styles/v2/sessions/start" BasemapSessions;
    "style_arcgis" "/arcgis/rest/services/styles/v2/styles/arcgis/navigation" BasemapSessions;
    "style_open" "/arcgis/rest/services/styles/v2/styles/open/osm-style" BasemapSessions;
    "federated_session_start" "/federated/rest/services/styles/v2/sessions/start" BasemapSessions;
}

/// Looks a standard endpoint up by name.
pub fn find(name: &str) -> Option<&'static Endpoint> {
    ENDPOINTS.iter().find(|e| e.name == name)
}

/// Every standard name, for error messages.
pub fn names() -> Vec<&'static str> {
    ENDPOINTS.iter().map(|e| e.name).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_unique() {
        let mut n = super::names();
        n.sort();
        let len = n.len();
        n.dedup();
        assert_eq!(n.len(), len);
    }
}
