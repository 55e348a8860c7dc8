use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn other_organizations_objects_read_as_null_like_missing_ones() {
    let app = spawn_app().await;
    let alice = app.token("alice", "org_a");
    let mallory = app.token("mallory", "org_b");
    let doc = app.create_document(&alice, "secret plan").await;
    let doc_id = doc["document"]["id"].as_str().unwrap().to_string();
    let audit_id = doc["auditEventId"].as_str().unwrap().to_string();
    let me_a = app.data(&alice, "{ me { id } }", json!({})).await["me"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Alice sees her objects.
    let q = "query($id: ID!) { node(id: $id) { id } document: node(id: $id) { ... on Document { title } } }";
    assert_eq!(
        app.data(&alice, q, json!({ "id": doc_id })).await["node"]["id"],
        doc_id
    );

    // Mallory, holding the real global ids, gets exactly what a missing id gives.
    let missing = app
        .data(
            &mallory,
            q,
            json!({ "id": "RG9jdW1lbnQ6MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAw" }),
        )
        .await;
    for id in [&doc_id, &audit_id, &me_a] {
        let data = app.data(&mallory, q, json!({ "id": id })).await;
        assert_eq!(data, missing, "{id}");
        assert!(data["node"].is_null());
    }
    let data = app
        .data(
            &mallory,
            "query($id: ID!) { document(id: $id) { id } }",
            json!({ "id": doc_id }),
        )
        .await;
    assert!(data["document"].is_null());
    let data = app
        .data(
            &mallory,
            "{ documents(first: 10) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["documents"]["edges"], json!([]));

    // Writes are scoped too.
    let (_, body) = app
        .gql(
            &mallory,
            "mutation($id: ID!) { updateDocument(id: $id, title: \"pwned\") { document { id } } }",
            json!({ "id": doc_id }),
        )
        .await;
    assert_eq!(crate::helpers::error_code(&body), "NOT_FOUND");
    let (_, body) = app
        .gql(
            &mallory,
            "mutation($id: ID!) { deleteDocument(id: $id) { auditEventId } }",
            json!({ "id": doc_id }),
        )
        .await;
    assert_eq!(crate::helpers::error_code(&body), "NOT_FOUND");
    let title: String = sqlx::query_scalar("SELECT title FROM documents")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(title, "secret plan");
}

#[tokio::test]
async fn sql_metacharacters_are_stored_and_returned_verbatim() {
    let app = spawn_app().await;
    let token = app.token("alice", "org_a");
    let nasty = "Robert'); DROP TABLE documents;-- \\ % _ \" $1 ' OR '1'='1 ünïcødé 🦀";
    let created = app.create_document(&token, nasty).await;
    assert_eq!(created["document"]["title"], nasty);
    let data = app
        .data(
            &token,
            "{ documents(first: 5) { edges { node { title } } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["documents"]["edges"][0]["node"]["title"], nasty);
    let stored: String = sqlx::query_scalar("SELECT title FROM documents")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(stored, nasty);
    let project = app
        .data(
            &token,
            "mutation($n: String!) { createProject(name: $n) { project { name } auditEventId } }",
            json!({ "n": nasty }),
        )
        .await;
    assert_eq!(project["createProject"]["project"]["name"], nasty);
}

#[tokio::test]
async fn mutations_return_the_node_and_the_audit_event_they_wrote() {
    let app = spawn_app().await;
    let token = app.token("alice", "org_a");
    let created = app.create_document(&token, "draft").await;
    let id = created["document"]["id"].as_str().unwrap();
    let updated = app
        .data(&token, "mutation($id: ID!) { updateDocument(id: $id, title: \"final\") { document { title } auditEventId } }", json!({ "id": id }))
        .await;
    assert_eq!(updated["updateDocument"]["document"]["title"], "final");
    let audit = app
        .data(
            &token,
            "query($id: ID!) { node(id: $id) { ... on AuditEvent { action subjectId actor { email } } } }",
            json!({ "id": updated["updateDocument"]["auditEventId"] }),
        )
        .await;
    assert_eq!(
        audit["node"],
        json!({ "action": "document.update", "subjectId": id, "actor": { "email": "alice@example.com" } })
    );
    let deleted = app
        .data(
            &token,
            "mutation($id: ID!) { deleteDocument(id: $id) { deletedDocumentId auditEventId } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(deleted["deleteDocument"]["deletedDocumentId"], id);
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(events, 3);
}
