//! Kiali's label rules that the graph and health both apply, defined once: which labels count
//! as set, and which label gives a request's response code.

use crate::input::IstioLabels;

/// Set and not `unknown` (Kiali treats both as an absent value).
#[inline]
pub(crate) fn is_ok(s: &str) -> bool {
    !s.is_empty() && s != "unknown"
}

/// Where a request's response code comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResponseCode<'l> {
    /// `response_code` 0: Istio's "no response", shown as `-`.
    NoResponse,
    /// The `response_code` label.
    Http(&'l str),
    /// The `grpc_response_status` label.
    Grpc(&'l str),
}

impl<'l> ResponseCode<'l> {
    /// The code as Kiali shows it.
    pub(crate) fn as_str(self) -> &'l str {
        match self {
            ResponseCode::NoResponse => "-",
            ResponseCode::Http(c) | ResponseCode::Grpc(c) => c,
        }
    }
}

/// The response code of a request sample (`None` without `response_code`): Istio reports 0 for
/// "no response"; gRPC requests use their own status when present, unless the HTTP code is
/// 4xx or 5xx.
#[inline]
pub(crate) fn response_code(grpc: bool, l: &IstioLabels) -> Option<ResponseCode<'_>> {
    let code = l.response_code()?;
    if code == "0" {
        return Some(ResponseCode::NoResponse);
    }
    if !grpc || code.starts_with('4') || code.starts_with('5') {
        return Some(ResponseCode::Http(code));
    }
    Some(match l.grpc_response_status() {
        Some(g) => ResponseCode::Grpc(g),
        None => ResponseCode::Http(code),
    })
}

#[cfg(test)]
mod tests {
    use super::{ResponseCode, is_ok, response_code};
    use crate::{IstioLabels, Label};

    fn labels(code: Option<&str>, grpc: Option<&str>) -> IstioLabels {
        let mut l = IstioLabels::default();
        l.put(Label::ResponseCode, code);
        l.put(Label::GrpcResponseStatus, grpc);
        l
    }

    #[test]
    fn set_means_neither_empty_nor_unknown() {
        assert!(is_ok("reviews"));
        assert!(!is_ok(""));
        assert!(!is_ok("unknown"));
        assert!(is_ok("Unknown"));
    }

    #[test]
    fn response_codes_follow_kiali() {
        let code = |grpc, c, g| response_code(grpc, &labels(c, g)).map(|r| format!("{r:?}"));
        let is = |r: ResponseCode<'_>| Some(format!("{r:?}"));
        assert_eq!(code(false, None, None), None);
        assert_eq!(code(false, Some("0"), None), is(ResponseCode::NoResponse));
        assert_eq!(
            code(true, Some("0"), Some("14")),
            is(ResponseCode::NoResponse)
        );
        assert_eq!(
            code(false, Some("200"), Some("2")),
            is(ResponseCode::Http("200"))
        );
        assert_eq!(
            code(true, Some("200"), Some("2")),
            is(ResponseCode::Grpc("2"))
        );
        assert_eq!(code(true, Some("200"), None), is(ResponseCode::Http("200")));
        assert_eq!(
            code(true, Some("503"), Some("14")),
            is(ResponseCode::Http("503"))
        );
        assert_eq!(
            code(true, Some("404"), Some("5")),
            is(ResponseCode::Http("404"))
        );
        assert_eq!(ResponseCode::NoResponse.as_str(), "-");
        assert_eq!(ResponseCode::Grpc("2").as_str(), "2");
    }
}
