//! ARNs read from the outside world: the generic `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`
//! form, and the rule ARN a DLQ message carries in `RULE_ARN`, which names the bus to re-emit to.
//! One parser, so the drain, its `--rule` filter and `dlq peek` read a rule ARN the same way.

use std::fmt;

/// The five fixed parts of an ARN and its resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Arn {
    pub partition: String,
    pub service: String,
    pub region: String,
    pub account: String,
    pub resource: String,
}

/// AWS account ids are 12 digits.
fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Partitions (`aws`, `aws-cn`, `aws-us-gov`) and Regions (`us-east-2`) are lowercase words
/// joined by `-`.
fn is_word(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

impl Arn {
    /// Why `s` is not an ARN with a partition, a Region and an account.
    pub(crate) fn parse(s: &str) -> Result<Arn, String> {
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        let [arn, partition, service, region, account, resource] = parts[..] else {
            return Err("is not an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)".into());
        };
        if arn != "arn" {
            return Err("is not an ARN: it does not start with arn:".into());
        }
        if !is_word(partition) {
            return Err(format!("has no valid partition ({partition:?})"));
        }
        if !is_word(region) {
            return Err(format!("has no valid Region ({region:?})"));
        }
        if !is_account(account) {
            return Err(format!(
                "has no valid account id ({account:?}; 12 digits expected)"
            ));
        }
        Ok(Arn {
            partition: partition.into(),
            service: service.into(),
            region: region.into(),
            account: account.into(),
            resource: resource.into(),
        })
    }
}

/// Rule and bus names: EventBridge allows `.`, `-`, `_` and ASCII letters and digits (bus
/// names also `/`, which separates the segments here).
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// `arn:PARTITION:events:REGION:ACCOUNT:rule/[BUS/]NAME`. A rule name never holds `/`, so
/// the name is the last segment and the bus is everything between `rule/` and it: a partner
/// bus such as `aws.partner/stripe.com/ed_XYZ` keeps its slashes. No bus means `default`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuleArn {
    pub partition: String,
    pub region: String,
    pub account: String,
    pub bus: String,
    pub name: String,
}

impl RuleArn {
    /// Why `s` is not a rule ARN (a fragment that reads after "RULE_ARN …").
    pub(crate) fn parse(s: &str) -> Result<RuleArn, String> {
        let arn = Arn::parse(s)?;
        if arn.service != "events" {
            return Err(format!(
                "is not an EventBridge ARN (service {:?}, not events)",
                arn.service
            ));
        }
        let Some(path) = arn.resource.strip_prefix("rule/") else {
            return Err("is not a rule ARN (its resource does not start with rule/)".into());
        };
        let segments: Vec<&str> = path.split('/').collect();
        if !segments.iter().all(|s| is_name(s)) {
            return Err(format!(
                "has an empty or invalid segment in rule/{path} (expected rule/NAME or rule/BUS/NAME)"
            ));
        }
        let (name, bus) = segments.split_last().expect("split yields a segment");
        Ok(RuleArn {
            partition: arn.partition,
            region: arn.region,
            account: arn.account,
            bus: if bus.is_empty() {
                "default".into()
            } else {
                bus.join("/")
            },
            name: (*name).into(),
        })
    }

    /// `BUS/NAME`, as the ARN spells it after `rule/` (`NAME` alone on the default bus).
    pub(crate) fn path(&self) -> String {
        format!("{}/{}", self.bus, self.name)
    }

    /// Why this rule's bus is not the one to re-emit to from a queue with ARN `home`: a
    /// rule-target DLQ lives in its rule's Region, and the tool puts events on buses of the
    /// account and Region of the queue it reads, so a rule of another account or Region
    /// would send the event to a same-named bus that is not the rule's.
    pub(crate) fn foreign_to(&self, home: &Arn) -> Option<String> {
        let here = (&home.partition, &home.region, &home.account);
        let there = (&self.partition, &self.region, &self.account);
        (here != there).then(|| {
            format!(
                "names a rule of account {} in {} ({}), not of the account {} in {} ({}) that the queue belongs to",
                self.account,
                self.region,
                self.partition,
                home.account,
                home.region,
                home.partition
            )
        })
    }
}

impl fmt::Display for RuleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:events:{}:{}:rule/",
            self.partition, self.region, self.account
        )?;
        if self.bus != "default" {
            write!(f, "{}/", self.bus)?;
        }
        write!(f, "{}", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: &str = "arn:aws:sqs:us-east-2:123456789012:subs-dlq";

    fn rule(s: &str) -> RuleArn {
        RuleArn::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn the_bus_is_everything_between_rule_and_the_name() {
        let r = rule("arn:aws:events:us-east-2:123456789012:rule/my-bus/r1");
        assert_eq!((r.bus.as_str(), r.name.as_str()), ("my-bus", "r1"));
        assert_eq!(
            (r.partition.as_str(), r.region.as_str(), r.account.as_str()),
            ("aws", "us-east-2", "123456789012")
        );
        let partner =
            rule("arn:aws:events:us-east-2:123456789012:rule/aws.partner/stripe.com/ed_XYZ/RULE");
        assert_eq!(partner.bus, "aws.partner/stripe.com/ed_XYZ");
        assert_eq!(partner.name, "RULE");
        assert_eq!(partner.path(), "aws.partner/stripe.com/ed_XYZ/RULE");
        let default = rule("arn:aws:events:us-east-2:123456789012:rule/only-name");
        assert_eq!(
            (default.bus.as_str(), default.name.as_str()),
            ("default", "only-name")
        );
        let gov = rule("arn:aws-us-gov:events:us-gov-west-1:123456789012:rule/b/r");
        assert_eq!(gov.partition, "aws-us-gov");
    }

    #[test]
    fn it_prints_back_as_written() {
        for s in [
            "arn:aws:events:us-east-2:123456789012:rule/my-bus/r1",
            "arn:aws:events:us-east-2:123456789012:rule/aws.partner/stripe.com/ed_XYZ/RULE",
            "arn:aws:events:us-east-2:123456789012:rule/only-name",
        ] {
            assert_eq!(rule(s).to_string(), s);
        }
    }

    #[test]
    fn malformed_rule_arns_say_why() {
        for (s, why) in [
            (
                "arn:aws:events:us-east-2:123456789012:rule/",
                "empty or invalid segment",
            ),
            (
                "arn:aws:events:us-east-2:123456789012:rule//x",
                "empty or invalid segment",
            ),
            (
                "arn:aws:events:us-east-2:123456789012:rule/x/",
                "empty or invalid segment",
            ),
            (
                "arn:aws:events:us-east-2:123456789012:rule/a//x",
                "empty or invalid segment",
            ),
            (
                "arn:aws:events:us-east-2:123456789012:rule/a b",
                "empty or invalid segment",
            ),
            (
                "arn:aws:events:us-east-2:123456789012:rule/a:b/x",
                "empty or invalid segment",
            ),
            (
                "arn:aws:sqs:us-east-2:123456789012:rule/x",
                "not an EventBridge ARN",
            ),
            (
                "arn:aws:events:us-east-2:123456789012:event-bus/x",
                "not a rule ARN",
            ),
            (
                "arn:aws:events:us-east-2:123456789012:x/rule/x",
                "not a rule ARN",
            ),
            ("arn:aws:events:us-east-2:1:rule/b/x", "account id"),
            ("arn:aws:events:us-east-2::rule/b/x", "account id"),
            ("arn:aws:events::123456789012:rule/b/x", "Region"),
            ("arn::events:us-east-2:123456789012:rule/b/x", "partition"),
            ("arn:aws:events:us-east-2:123456789012", "not an ARN"),
            (
                "ARN:aws:events:us-east-2:123456789012:rule/x",
                "start with arn:",
            ),
            ("my-rule", "not an ARN"),
            ("", "not an ARN"),
        ] {
            let e = RuleArn::parse(s).expect_err(s);
            assert!(e.contains(why), "{s}: {e}");
        }
    }

    #[test]
    fn another_account_region_or_partition_is_foreign() {
        let home = Arn::parse(HOME).unwrap();
        let here = rule("arn:aws:events:us-east-2:123456789012:rule/b/r");
        assert_eq!(here.foreign_to(&home), None);
        for other in [
            "arn:aws:events:us-east-2:999999999999:rule/b/r",
            "arn:aws:events:eu-west-1:123456789012:rule/b/r",
            "arn:aws-cn:events:us-east-2:123456789012:rule/b/r",
        ] {
            let why = rule(other).foreign_to(&home).expect(other);
            assert!(why.contains("123456789012 in us-east-2"), "{why}");
        }
    }
}
