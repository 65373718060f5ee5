//! The hook for the demo: static directories served beside the API.

mod common;

use common::*;
use reqwest::Method;
use usernotify_service::StaticDir;

#[tokio::test]
async fn static_directories_are_served_beside_the_api() {
    let files = tempfile::tempdir().unwrap();
    let site = files.path().join("www");
    let pkg = files.path().join("pkg");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(site.join("index.html"), "<h1>demo</h1>").unwrap();
    std::fs::write(pkg.join("usernotify.js"), "export default 1;").unwrap();
    let service = TestService::start_with(|config| {
        config.static_dirs = vec![
            StaticDir {
                mount: "/".into(),
                dir: site.clone(),
            },
            StaticDir {
                mount: "/pkg".into(),
                dir: pkg.clone(),
            },
        ];
    })
    .await;
    let page = service
        .http
        .get(format!("{}/", service.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.text().await.unwrap(), "<h1>demo</h1>");
    let module = service
        .http
        .get(format!("{}/pkg/usernotify.js", service.base))
        .send()
        .await
        .unwrap();
    assert_eq!(module.status(), 200);
    assert!(module.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    // The package's worker lives in /pkg/ and must be allowed to control the whole site.
    assert_eq!(module.headers()["service-worker-allowed"], "/");
    // The API keeps its routes and its Graph errors.
    assert_eq!(service.get("/me/notifications", ALICE).await.status, 200);
    service
        .send(
            service
                .request(Method::PUT, "/me/notifications")
                .bearer_auth(ALICE),
        )
        .await
        .assert_error(405, "method-not-allowed");
    let missing = service
        .http
        .get(format!("{}/nothing-here.html", service.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn a_listed_origin_may_call_the_api_from_its_pages() {
    let service = TestService::start_with(|config| {
        config.cors_origins = vec!["https://app.example".into()];
    })
    .await;
    let preflight = service
        .http
        .request(
            Method::OPTIONS,
            format!("{}/me/notifications", service.base),
        )
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, x-uns")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let answer = service
        .send(
            service
                .request(Method::GET, "/me/notifications")
                .bearer_auth(ALICE)
                .header("origin", "https://evil.example"),
        )
        .await;
    assert_eq!(answer.status, 200);
    assert!(!answer.headers.contains_key("access-control-allow-origin"));
}
