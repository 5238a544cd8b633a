//! Kubernetes' IP and CIDR libraries: `ip`, `isIP`, `ip.isCanonical`, `cidr`,
//! `isCIDR` and their methods (k8s.io/apiserver/pkg/cel/library/ip.go and
//! cidr.go, which parse with Go's `netip`: no zones, no IPv4-mapped IPv6).

use super::{global, member, op, opaque, text};
use cel::common::types::{Type, STRING_TYPE};
use cel::objects::Opaque;
use cel::{DeclarationError, Env, Value};
use std::net::IpAddr;
use std::sync::Arc;

const IP_TYPE: &str = "net.IP";
const CIDR_TYPE: &str = "net.CIDR";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ip(IpAddr);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    ip: IpAddr,
    prefix: u8,
}

impl Opaque for Ip {
    fn runtime_type_name(&self) -> &str {
        IP_TYPE
    }
}

impl Opaque for Cidr {
    fn runtime_type_name(&self) -> &str {
        CIDR_TYPE
    }
}

fn parse_ip(s: &str) -> Result<IpAddr, String> {
    if s.contains('%') {
        return Err(format!("IP address with zone value is not allowed: {s:?}"));
    }
    let ip: IpAddr = s
        .parse()
        .map_err(|_| format!("IP Address {s:?} parse error during conversion from string"))?;
    if let IpAddr::V6(v6) = ip {
        if v6.to_ipv4_mapped().is_some() {
            return Err(format!("IPv4-mapped IPv6 address {s:?} is not allowed"));
        }
    }
    Ok(ip)
}

fn parse_cidr(s: &str) -> Result<Cidr, String> {
    let (addr, prefix) = s.split_once('/').ok_or_else(|| {
        format!("network address parse error during conversion from string: {s:?}")
    })?;
    let ip = parse_ip(addr)?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix: u8 = prefix
        .parse()
        .ok()
        .filter(|p| {
            *p <= max && !prefix.starts_with('+') && (prefix == "0" || !prefix.starts_with('0'))
        })
        .ok_or_else(|| {
            format!("network address parse error during conversion from string: {s:?}")
        })?;
    Ok(Cidr { ip, prefix })
}

fn bits(ip: IpAddr) -> (u128, u32) {
    match ip {
        IpAddr::V4(v4) => (u32::from(v4) as u128, 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

fn from_bits(value: u128, width: u32) -> IpAddr {
    if width == 32 {
        IpAddr::V4((value as u32).into())
    } else {
        IpAddr::V6(value.into())
    }
}

impl Cidr {
    fn masked(self) -> Cidr {
        let (value, width) = bits(self.ip);
        let host_bits = width - self.prefix as u32;
        let mask = if host_bits >= 128 {
            0
        } else {
            !0u128 << host_bits
        };
        Cidr {
            ip: from_bits(value & mask, width),
            prefix: self.prefix,
        }
    }

    fn contains(self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.ip.is_ipv4()
            && Cidr {
                ip,
                prefix: self.prefix,
            }
            .masked()
                == self.masked()
    }
}

fn is_global_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_unspecified()
                || v4.is_loopback()
                || v4.is_multicast()
                || v4.is_link_local()
                || v4.is_broadcast())
        }
        IpAddr::V6(v6) => {
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || v6.is_unicast_link_local())
        }
    }
}

fn is_link_local_multicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.octets()[..3] == [224, 0, 0],
        IpAddr::V6(v6) => v6.segments()[0] & 0xff0f == 0xff02,
    }
}

fn is_link_local_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.is_unicast_link_local(),
    }
}

fn ip_arg(args: &[Value], n: usize) -> Result<IpAddr, String> {
    match args.get(n) {
        Some(Value::String(s)) => parse_ip(s),
        _ => opaque::<Ip>(args, n, "IP").map(|ip| ip.0),
    }
}

fn cidr_arg(args: &[Value], n: usize) -> Result<Cidr, String> {
    match args.get(n) {
        Some(Value::String(s)) => parse_cidr(s),
        _ => opaque::<Cidr>(args, n, "CIDR"),
    }
}

fn ip_value(ip: IpAddr) -> Value {
    Value::Opaque(Arc::new(Ip(ip)))
}

fn cidr_value(cidr: Cidr) -> Value {
    Value::Opaque(Arc::new(cidr))
}

fn string(s: String) -> Value {
    Value::String(Arc::new(s))
}

pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    let ip = &|| Type::new_opaque_type(IP_TYPE);
    let cidr = &|| Type::new_opaque_type(CIDR_TYPE);
    env.add_type(ip())?;
    env.add_type(cidr())?;
    global(
        env,
        "ip",
        vec![STRING_TYPE],
        op!("ip", |a| Ok(ip_value(ip_arg(a, 0)?))),
    )?;
    global(
        env,
        "isIP",
        vec![STRING_TYPE],
        op!("isIP", |a| Ok(Value::Bool(parse_ip(text(a, 0)?).is_ok()))),
    )?;
    global(
        env,
        "ip.isCanonical",
        vec![STRING_TYPE],
        op!("ip.isCanonical", |a| {
            let s = text(a, 0)?;
            Ok(Value::Bool(parse_ip(s)?.to_string() == s))
        }),
    )?;
    global(
        env,
        "string",
        vec![ip()],
        op!("string", |a| Ok(string(ip_arg(a, 0)?.to_string()))),
    )?;
    member(
        env,
        "family",
        ip(),
        vec![],
        op!("family", |a| Ok(Value::Int(if ip_arg(a, 0)?.is_ipv4() {
            4
        } else {
            6
        }))),
    )?;
    member(
        env,
        "isUnspecified",
        ip(),
        vec![],
        op!("isUnspecified", |a| Ok(Value::Bool(
            ip_arg(a, 0)?.is_unspecified()
        ))),
    )?;
    member(
        env,
        "isLoopback",
        ip(),
        vec![],
        op!("isLoopback", |a| Ok(Value::Bool(
            ip_arg(a, 0)?.is_loopback()
        ))),
    )?;
    member(
        env,
        "isLinkLocalMulticast",
        ip(),
        vec![],
        op!("isLinkLocalMulticast", |a| Ok(Value::Bool(
            is_link_local_multicast(ip_arg(a, 0)?)
        ))),
    )?;
    member(
        env,
        "isLinkLocalUnicast",
        ip(),
        vec![],
        op!("isLinkLocalUnicast", |a| Ok(Value::Bool(
            is_link_local_unicast(ip_arg(a, 0)?)
        ))),
    )?;
    member(
        env,
        "isGlobalUnicast",
        ip(),
        vec![],
        op!("isGlobalUnicast", |a| Ok(Value::Bool(is_global_unicast(
            ip_arg(a, 0)?
        )))),
    )?;

    global(
        env,
        "cidr",
        vec![STRING_TYPE],
        op!("cidr", |a| Ok(cidr_value(cidr_arg(a, 0)?))),
    )?;
    global(
        env,
        "isCIDR",
        vec![STRING_TYPE],
        op!("isCIDR", |a| Ok(Value::Bool(
            parse_cidr(text(a, 0)?).is_ok()
        ))),
    )?;
    global(
        env,
        "string",
        vec![cidr()],
        op!("string", |a| {
            let c = cidr_arg(a, 0)?;
            Ok(string(format!("{}/{}", c.ip, c.prefix)))
        }),
    )?;
    for arg in [ip as &dyn Fn() -> Type, &|| STRING_TYPE] {
        member(
            env,
            "containsIP",
            cidr(),
            vec![arg()],
            op!("containsIP", |a| Ok(Value::Bool(
                cidr_arg(a, 0)?.contains(ip_arg(a, 1)?)
            ))),
        )?;
    }
    for arg in [cidr as &dyn Fn() -> Type, &|| STRING_TYPE] {
        member(
            env,
            "containsCIDR",
            cidr(),
            vec![arg()],
            op!("containsCIDR", |a| {
                let (outer, inner) = (cidr_arg(a, 0)?, cidr_arg(a, 1)?);
                Ok(Value::Bool(
                    inner.prefix >= outer.prefix && outer.contains(inner.ip),
                ))
            }),
        )?;
    }
    member(
        env,
        "ip",
        cidr(),
        vec![],
        op!("ip", |a| Ok(ip_value(cidr_arg(a, 0)?.ip))),
    )?;
    member(
        env,
        "prefixLength",
        cidr(),
        vec![],
        op!("prefixLength", |a| Ok(Value::Int(
            cidr_arg(a, 0)?.prefix as i64
        ))),
    )?;
    member(
        env,
        "masked",
        cidr(),
        vec![],
        op!("masked", |a| Ok(cidr_value(cidr_arg(a, 0)?.masked()))),
    )
}

#[cfg(test)]
mod tests {
    use super::super::testing::{fails, holds};

    #[test]
    fn ip_library() {
        // The examples of Kubernetes' IP library documentation, then edge cases.
        holds("isIP('127.0.0.1') && isIP('::1') && !isIP('127.0.0.256') && !isIP(':::1') && !isIP('01.2.3.4')");
        holds("ip.isCanonical('127.0.0.1') && ip.isCanonical('2001:db8::abcd') && !ip.isCanonical('2001:DB8::ABCD') && !ip.isCanonical('2001:db8::0:0:0:abcd')");
        holds("ip('127.0.0.1').family() == 4 && ip('::1').family() == 6");
        holds("ip('0.0.0.0').isUnspecified() && !ip('127.0.0.1').isUnspecified() && ip('::').isUnspecified() && !ip('::1').isUnspecified()");
        holds("ip('127.0.0.1').isLoopback() && !ip('192.168.0.1').isLoopback() && ip('::1').isLoopback() && !ip('2001:db8::abcd').isLoopback()");
        holds("ip('224.0.0.1').isLinkLocalMulticast() && !ip('224.0.1.1').isLinkLocalMulticast() && ip('ff02::1').isLinkLocalMulticast() && !ip('fd00::1').isLinkLocalMulticast()");
        holds("ip('169.254.169.254').isLinkLocalUnicast() && !ip('192.168.0.1').isLinkLocalUnicast() && ip('fe80::1').isLinkLocalUnicast() && !ip('fd80::1').isLinkLocalUnicast()");
        holds("ip('192.168.0.1').isGlobalUnicast() && !ip('255.255.255.255').isGlobalUnicast() && ip('2001:db8::abcd').isGlobalUnicast() && !ip('ff00::1').isGlobalUnicast()");
        holds("!isIP('fe80::1%eth0') && !isIP('::ffff:10.0.0.1') && ip('10.0.0.1') == ip('10.0.0.1') && string(ip('::1')) == '::1'");
        fails("ip('nope').family() == 4", "parse error");
        fails(
            "ip('::ffff:1.2.3.4').family() == 6",
            "IPv4-mapped IPv6 address",
        );
    }

    #[test]
    fn cidr_library() {
        holds("isCIDR('10.0.0.0/8') && !isCIDR('10.0.0.0/33') && !isCIDR('10.0.0.0') && cidr('10.0.0.0/8').prefixLength() == 8");
        holds("cidr('10.0.0.0/8').containsIP(ip('10.1.2.3')) && cidr('10.0.0.0/8').containsIP('10.1.2.3') && !cidr('10.0.0.0/8').containsIP('11.0.0.1')");
        holds("cidr('10.0.0.0/8').containsCIDR('10.1.0.0/16') && !cidr('10.1.0.0/16').containsCIDR(cidr('10.0.0.0/8'))");
        holds("cidr('192.168.1.5/24').masked() == cidr('192.168.1.0/24') && cidr('192.168.1.5/24').ip() == ip('192.168.1.5')");
        holds("string(cidr('::1/128')) == '::1/128' && cidr('2001:db8::/32').containsIP('2001:db8::1') && !cidr('0.0.0.0/0').containsIP('::1')");
    }
}
