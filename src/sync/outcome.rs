//! What a failed row's `sf__Error` means: retry it, or dead-letter it with a hint a person
//! can act on. Domain knowledge only; retry timing lives elsewhere.

/// A failed row's fate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowFate {
    /// Send again in a new job (bounded).
    Retry,
    /// Dead-letter with this hint.
    DeadLetter { hint: &'static str },
}

/// Splits `CODE:message:fields --` into code and message.
pub fn split_error(sf_error: &str) -> (&str, &str) {
    let text = sf_error.trim();
    match text.split_once(':') {
        Some((code, rest))
            if !code.is_empty() && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') =>
        {
            let message = rest.trim_end_matches("--").trim();
            let message = message.strip_suffix(':').unwrap_or(message).trim();
            (code, message)
        }
        _ => ("UNKNOWN", text),
    }
}

/// Transient codes: the row may well succeed when sent again.
const TRANSIENT: &[&str] = &[
    "UNABLE_TO_LOCK_ROW",
    "SERVER_UNAVAILABLE",
    "REQUEST_RUNNING_TOO_LONG",
    "QUERY_TIMEOUT",
    "UNKNOWN_EXCEPTION",
];

pub fn classify(code: &str, message: &str) -> RowFate {
    if TRANSIENT.contains(&code) {
        return RowFate::Retry;
    }
    let hint = match code {
        "REQUIRED_FIELD_MISSING" => {
            "a field Salesforce requires is empty; fill it in Shopify or give the mapping a default"
        }
        "INVALID_EMAIL_ADDRESS" => {
            "Salesforce rejects this email address; correct it on the Shopify customer"
        }
        "STRING_TOO_LONG" => {
            "a value is longer than the Salesforce field allows; shorten it in Shopify or widen the field in sfdx/"
        }
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" => {
            "the value is not in the restricted picklist; add it to the field in sfdx/ or fix the mapping"
        }
        "DUPLICATE_VALUE" | "DUPLICATE_EXTERNAL_ID" => {
            "another Salesforce record already has this unique value; merge or clean up the duplicates, then retry"
        }
        "DUPLICATES_DETECTED" => {
            "a duplicate rule blocks the save; set the rule to Allow + Report for the integration user (see sfdx/README.md)"
        }
        "INVALID_FIELD_FOR_INSERT_UPDATE"
        | "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY"
        | "INSUFFICIENT_ACCESS_OR_READONLY" => {
            "the integration user cannot write this field or record; assign the Shopify_Sync_Integration permission set"
        }
        "INVALID_CROSS_REFERENCE_KEY" => {
            "a referenced record does not exist or is not visible to the integration user"
        }
        "FIELD_INTEGRITY_EXCEPTION" => {
            "Salesforce rejected a relationship between records (for example a price book entry outside the order's price book)"
        }
        "INVALID_TYPE_ON_FIELD_IN_RECORD" | "NUMBER_OUTSIDE_VALID_RANGE" => {
            "a value has the wrong type or is out of range for its field"
        }
        "FIELD_CUSTOM_VALIDATION_EXCEPTION" => {
            "an org validation rule rejected the record; see the message for the rule's text"
        }
        "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY" => {
            "an org trigger or flow failed on this record; see the message"
        }
        "INVALID_FIELD" if message.contains("Foreign key external ID") => {
            "the parent record is not in Salesforce; it failed or was never synced"
        }
        "INVALID_FIELD" => "a column is not writable or a value does not fit the field",
        _ => "see the Salesforce error message",
    };
    RowFate::DeadLetter { hint }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_split_into_code_and_message() {
        assert_eq!(
            split_error(
                "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --"
            ),
            (
                "REQUIRED_FIELD_MISSING",
                "Required fields are missing: [LastName]:LastName"
            )
        );
        assert_eq!(split_error("something odd"), ("UNKNOWN", "something odd"));
    }

    #[test]
    fn lock_errors_retry_and_validation_errors_dead_letter() {
        assert_eq!(
            classify("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access"),
            RowFate::Retry
        );
        match classify(
            "INVALID_FIELD",
            "Foreign key external ID: 9 not found for field Shopify_Customer_ID__c in entity Account",
        ) {
            RowFate::DeadLetter { hint } => assert!(hint.contains("parent record")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify("INVALID_EMAIL_ADDRESS", ""),
            RowFate::DeadLetter { .. }
        ));
    }
}
