//! `shopforce review`: the ambiguous identity matches waiting for a person, and their
//! decisions. A decision is recorded in the state store; the next sync that reads the
//! customer applies it (`shopforce sync --full` re-reads every customer).

use clap::{ArgGroup, Args, Subcommand};

use crate::store::{
    DeadLetterFilter, DeadLetterStatus, IdentityLink, Review, ReviewId, ReviewStatus, StateStore,
};
use crate::sync::resolve::CREATE_NEW;

use super::engine::{ConfigArgs, load_config, open_store};

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// List ambiguous identity matches (open ones by default) with their candidate Contacts.
    List(ReviewListArgs),
    /// Decide one: link the customer to a Contact, or give them a Contact of their own.
    Resolve(ReviewResolveArgs),
}

#[derive(Debug, Args)]
pub struct ReviewListArgs {
    /// Show resolved reviews instead of open ones.
    #[arg(long)]
    pub resolved: bool,
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("decision").required(true).args(["contact", "create_new"])))]
pub struct ReviewResolveArgs {
    /// The review (see `review list`).
    pub id: i64,
    /// Link the customer to this Contact (an 18-character Salesforce Id).
    #[arg(long)]
    pub contact: Option<String>,
    /// Give the customer a Contact of their own.
    #[arg(long)]
    pub create_new: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
}

fn review_json(r: &Review) -> serde_json::Value {
    serde_json::json!({
        "id": r.id.0, "shop": r.shop, "kind": r.shopify_kind, "shopify_id": r.shopify_id,
        "object": r.sf_object, "reason": r.reason, "candidates": r.candidates,
        "status": r.status.to_string(), "resolution": r.resolution,
        "created_at": r.created_at, "resolved_at": r.resolved_at,
    })
}

pub async fn run(command: ReviewCommand) -> Result<(), String> {
    match command {
        ReviewCommand::List(args) => {
            let config = load_config(&args.config)?;
            let store = open_store(&config).await?;
            let status = if args.resolved {
                ReviewStatus::Resolved
            } else {
                ReviewStatus::Open
            };
            let reviews = store
                .list_reviews(status, args.limit)
                .await
                .map_err(|e| e.to_string())?;
            if args.json {
                let list: Vec<_> = reviews.iter().map(review_json).collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&list).unwrap_or_default()
                );
            } else if reviews.is_empty() {
                println!("No {status} reviews.");
            } else {
                for r in &reviews {
                    println!(
                        "review {}  {} {} {}: {}",
                        r.id.0, r.shop, r.shopify_kind, r.shopify_id, r.reason
                    );
                    for c in &r.candidates {
                        let known = store.crm_contact(c).await.map_err(|e| e.to_string())?;
                        let detail = known.map_or(String::new(), |k| {
                            format!(
                                "  {} {} <{}> {}",
                                k.first_name,
                                k.last_name,
                                k.email.as_deref().unwrap_or("-"),
                                k.phone.as_deref().unwrap_or("-")
                            )
                        });
                        println!("    candidate {c}{detail}");
                    }
                    if let Some(resolution) = &r.resolution {
                        println!("    resolved: {resolution}");
                    }
                }
                if !args.resolved {
                    println!(
                        "Decide with: shopforce review resolve ID --contact CONTACT_ID | --create-new"
                    );
                }
            }
            store.close().await;
            Ok(())
        }
        ReviewCommand::Resolve(args) => {
            let config = load_config(&args.config)?;
            let store = open_store(&config).await?;
            let result = resolve(&store, &args).await;
            store.close().await;
            result
        }
    }
}

async fn resolve(store: &crate::store::Store, args: &ReviewResolveArgs) -> Result<(), String> {
    let review = store
        .get_review(ReviewId(args.id))
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("there is no review {} (see shopforce review list)", args.id))?;
    if review.status == ReviewStatus::Resolved {
        return Err(format!(
            "review {} is already resolved ({})",
            args.id,
            review.resolution.as_deref().unwrap_or("-")
        ));
    }
    let decision = match &args.contact {
        Some(contact_id) => {
            let contact = store
                .crm_contact(contact_id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| {
                    format!(
                        "Contact {contact_id} is not among the org's Contacts shopforce has read; check the Id, or run a sync first (it reads the org's Contacts)"
                    )
                })?;
            let account_id = contact.account_id.as_deref().ok_or_else(|| {
                format!("Contact {contact_id} has no Account; the customer's orders need one: give it an Account in Salesforce first")
            })?;
            if !review.candidates.iter().any(|c| c == contact_id) {
                println!(
                    "note: {contact_id} is not one of the review's candidates; linking as asked"
                );
            }
            store
                .put_identity_links(&[IdentityLink {
                    shop: review.shop.clone(),
                    customer_id: review.shopify_id.clone(),
                    contact_id: contact_id.clone(),
                    account_id: account_id.to_string(),
                    tier: "review".to_string(),
                    primary: contact.shopify_customer_id.is_none(),
                }])
                .await
                .map_err(|e| e.to_string())?;
            contact_id.clone()
        }
        None => CREATE_NEW.to_string(),
    };
    store
        .resolve_review(ReviewId(args.id), &decision)
        .await
        .map_err(|e| e.to_string())?;
    // The customer's held row is superseded by the decision.
    let letters = store
        .list_dead_letters(&DeadLetterFilter {
            status: Some(DeadLetterStatus::Open),
            object: Some("contact-customer".to_string()),
            shop: Some(review.shop.clone()),
            after: None,
            limit: 10_000,
        })
        .await
        .map_err(|e| e.to_string())?;
    let held: Vec<_> = letters
        .iter()
        .filter(|d| d.error_code == "IDENTITY_REVIEW" && d.external_id == review.shopify_id)
        .map(|d| d.id)
        .collect();
    store
        .mark_dead_letters(&held, DeadLetterStatus::Dropped)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "review {} resolved: {} customer {} → {}. The next sync that reads the customer writes them and their orders (shopforce sync --shop {} --full re-reads every customer).",
        args.id,
        review.shop,
        review.shopify_id,
        if decision == CREATE_NEW {
            "a Contact of their own".to_string()
        } else {
            format!("Contact {decision}")
        },
        review.shop
    );
    Ok(())
}
