use super::*;

const MINIMAL: &str = r#"
service = "acmeBooks"
display_name = "Acme Books"
status = "supported"
auth = "oauth2"
[oauth2]
authorize_url = "https://auth.acme.example/authorize"
token_url = "https://auth.acme.example/token"
client_auth = "basic"
pkce = "required"
rotation = "always"
[[sources]]
fact = "endpoints"
url = "https://developer.acme.example/oauth"
"#;

fn refused(text: &str) -> CatalogError {
    ServiceDefinition::from_toml("acme.toml", text).expect_err("refused")
}

#[test]
fn the_builtin_catalog_is_valid_and_complete() {
    let catalog = Catalog::builtin().unwrap();
    #[cfg(feature = "all")]
    {
        let names: Vec<&str> = catalog.iter().map(|d| d.service_name().as_str()).collect();
        for service in [
            "quickbooks",
            "xero",
            "sageBusinessCloud",
            "freshbooks",
            "zohoBooks",
            "dynamicsBusinessCentral",
            "oracleNetsuite",
            "wave",
            "myob",
            "sageIntacct",
            "freeagent",
            "quickbooksDesktop",
        ] {
            assert!(names.contains(&service), "{service} is missing from {names:?}");
        }
    }
    for definition in catalog.iter() {
        let stem = definition.file().trim_start_matches("catalog/").trim_end_matches(".toml");
        assert_eq!(stem, definition.service_name().as_str(), "one file per service, named after it");
        match definition.support() {
            Support::Supported => assert!(!definition.sources().is_empty(), "{}", definition.file()),
            Support::Unsupported { reason } => assert!(!reason.is_empty()),
        }
    }
}

#[test]
fn errors_name_the_file_and_the_field() {
    let e = refused(&MINIMAL.replace("pkce = \"required\"", "pkce = \"sometimes\""));
    assert_eq!((e.file.as_str(), e.field.as_str()), ("acme.toml", "oauth2.pkce"), "{e}");
    let e = refused(&MINIMAL.replace("rotation = \"always\"", "rotation = \"always\"\ntoken_ur = \"x\""));
    assert_eq!(e.field, "oauth2.token_ur", "an unknown field is named: {e}");
    let e = refused(&MINIMAL.replace("https://auth.acme.example/token", "http://auth.acme.example/token"));
    assert_eq!(e.field, "oauth2.token_url", "{e}");
    let e = refused(&MINIMAL.replace("/authorize\"", "/{tenantCode}/authorize\""));
    assert_eq!(e.field, "oauth2.authorize_url", "{e}");
    assert!(e.to_string().starts_with("acme.toml: oauth2.authorize_url: "), "{e}");
    let e = refused(&MINIMAL.replace("service = \"acmeBooks\"", "service = \"acme books\""));
    assert_eq!(e.field, "service");
    let e = refused(&format!("{MINIMAL}\n[[inputs]]\nname = \"region\"\nlabel = \"Region\"\nkind = \"choice\"\n"));
    assert_eq!(e.field, "inputs[0].choices", "{e}");
    let e = refused(&format!("{MINIMAL}\n[tenants]\nsource = \"list\"\n"));
    assert_eq!(e.field, "tenants.request", "{e}");
    let e = refused(&format!("{MINIMAL}\n[admin_refusal]\nsignal = \"callback\"\n"));
    assert_eq!(e.field, "admin_refusal.error", "{e}");
    let e = refused(
        &MINIMAL.replace("[[sources]]\nfact = \"endpoints\"\nurl = \"https://developer.acme.example/oauth\"\n", ""),
    );
    assert_eq!(e.field, "sources", "{e}");
    let e = refused(&MINIMAL.replace("status = ", "countries = [\"CA\", \"usa\"]\nstatus = "));
    assert_eq!(e.field, "countries[1]", "{e}");
    let e = refused("service = ");
    assert_eq!(e.field, "", "a syntax error names the file: {e}");
}

#[test]
fn countries_reach_the_service_summary() {
    let with = ServiceDefinition::from_toml(
        "acme.toml",
        &MINIMAL.replace("status = ", "countries = [\"CA\", \"US\"]\nstatus = "),
    )
    .unwrap();
    assert_eq!(with.countries(), ["CA", "US"]);
    let placement = crate::adapter::Placement::default();
    let metadata = crate::adapter::oauth2_definition(&with, &placement).unwrap();
    assert_eq!(metadata.countries, ["CA", "US"]);
    assert!(ServiceDefinition::from_toml("acme.toml", MINIMAL).unwrap().countries().is_empty(), "absent: everywhere");
}

#[test]
fn an_app_file_adds_and_overrides() {
    let mut catalog = Catalog::builtin().unwrap();
    let before = catalog.len();
    catalog.add_toml("acme.toml", MINIMAL).unwrap();
    assert_eq!(catalog.len(), before + 1);
    let staging = MINIMAL.replace("auth.acme.example", "auth.staging.acme.example");
    catalog.add_toml("acme-staging.toml", &staging).unwrap();
    assert_eq!(catalog.len(), before + 1, "same service: replaced");
    let acme = catalog.get(&"acmeBooks".parse().unwrap()).unwrap();
    assert_eq!(acme.file(), "acme-staging.toml");
    assert!(acme.oauth2.as_ref().unwrap().token_url.contains("staging"));
    let dir = std::env::temp_dir().join(format!("railz-catalog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("acme.toml"), MINIMAL.replace("Acme Books", "Acme Books (file)")).unwrap();
    assert_eq!(catalog.load_dir(&dir).unwrap(), 1);
    assert_eq!(catalog.get(&"acmeBooks".parse().unwrap()).unwrap().display_name(), "Acme Books (file)");
    std::fs::write(dir.join("broken.toml"), "service = 3").unwrap();
    let e = catalog.load_dir(&dir).unwrap_err();
    assert!(e.file.ends_with("broken.toml") && e.field == "service", "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
