package tls

import (
	"strconv"
	"strings"
	"sync"
)

// cipherSuiteName is the IANA name of a TLS cipher suite, "" when the id
// is not in the table. Source: IANA "TLS Cipher Suites" registry
// (tls-parameters, https://www.iana.org/assignments/tls-parameters).
// The table holds every suite the registry assigns (the families beyond
// AES, ChaCha20 and the legacy ciphers cite their RFCs) plus every weak
// one known from outside it (sources at each): a registered suite is
// graded by its parts, so a device whose server picks a sound one
// (Camellia or ARIA in GCM, AES-CCM with PSK as mbedTLS offers) gets the
// credit. Unlisted ids are printed in hex and graded neither strong nor
// weak.
func cipherSuiteName(id uint16) string {
	switch id {
	case 0x0000:
		return "TLS_NULL_WITH_NULL_NULL"
	case 0x0001:
		return "TLS_RSA_WITH_NULL_MD5"
	case 0x0002:
		return "TLS_RSA_WITH_NULL_SHA"
	case 0x0003:
		return "TLS_RSA_EXPORT_WITH_RC4_40_MD5"
	case 0x0004:
		return "TLS_RSA_WITH_RC4_128_MD5"
	case 0x0005:
		return "TLS_RSA_WITH_RC4_128_SHA"
	case 0x0006:
		return "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5"
	case 0x0007:
		return "TLS_RSA_WITH_IDEA_CBC_SHA"
	case 0x0008:
		return "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA"
	case 0x0009:
		return "TLS_RSA_WITH_DES_CBC_SHA"
	case 0x000A:
		return "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
	case 0x000B:
		return "TLS_DH_DSS_EXPORT_WITH_DES40_CBC_SHA"
	case 0x000C:
		return "TLS_DH_DSS_WITH_DES_CBC_SHA"
	case 0x000D:
		return "TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA"
	case 0x000E:
		return "TLS_DH_RSA_EXPORT_WITH_DES40_CBC_SHA"
	case 0x000F:
		return "TLS_DH_RSA_WITH_DES_CBC_SHA"
	case 0x0010:
		return "TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA"
	case 0x0011:
		return "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA"
	case 0x0012:
		return "TLS_DHE_DSS_WITH_DES_CBC_SHA"
	case 0x0013:
		return "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA"
	case 0x0014:
		return "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA"
	case 0x0015:
		return "TLS_DHE_RSA_WITH_DES_CBC_SHA"
	case 0x0016:
		return "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"
	case 0x0017:
		return "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5"
	case 0x0018:
		return "TLS_DH_anon_WITH_RC4_128_MD5"
	case 0x0019:
		return "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA"
	case 0x001A:
		return "TLS_DH_anon_WITH_DES_CBC_SHA"
	case 0x001B:
		return "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA"
	case 0x001E:
		return "TLS_KRB5_WITH_DES_CBC_SHA"
	case 0x001F:
		return "TLS_KRB5_WITH_3DES_EDE_CBC_SHA"
	case 0x0020:
		return "TLS_KRB5_WITH_RC4_128_SHA"
	case 0x0021:
		return "TLS_KRB5_WITH_IDEA_CBC_SHA"
	case 0x0022:
		return "TLS_KRB5_WITH_DES_CBC_MD5"
	case 0x0023:
		return "TLS_KRB5_WITH_3DES_EDE_CBC_MD5"
	case 0x0024:
		return "TLS_KRB5_WITH_RC4_128_MD5"
	case 0x0025:
		return "TLS_KRB5_WITH_IDEA_CBC_MD5"
	case 0x0026:
		return "TLS_KRB5_EXPORT_WITH_DES_CBC_40_SHA"
	case 0x0027:
		return "TLS_KRB5_EXPORT_WITH_RC2_CBC_40_SHA"
	case 0x0028:
		return "TLS_KRB5_EXPORT_WITH_RC4_40_SHA"
	case 0x0029:
		return "TLS_KRB5_EXPORT_WITH_DES_CBC_40_MD5"
	case 0x002A:
		return "TLS_KRB5_EXPORT_WITH_RC2_CBC_40_MD5"
	case 0x002B:
		return "TLS_KRB5_EXPORT_WITH_RC4_40_MD5"
	case 0x002C:
		return "TLS_PSK_WITH_NULL_SHA"
	case 0x002D:
		return "TLS_DHE_PSK_WITH_NULL_SHA"
	case 0x002E:
		return "TLS_RSA_PSK_WITH_NULL_SHA"
	case 0x002F:
		return "TLS_RSA_WITH_AES_128_CBC_SHA"
	case 0x0030:
		return "TLS_DH_DSS_WITH_AES_128_CBC_SHA"
	case 0x0031:
		return "TLS_DH_RSA_WITH_AES_128_CBC_SHA"
	case 0x0032:
		return "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"
	case 0x0033:
		return "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"
	case 0x0034:
		return "TLS_DH_anon_WITH_AES_128_CBC_SHA"
	case 0x0035:
		return "TLS_RSA_WITH_AES_256_CBC_SHA"
	case 0x0036:
		return "TLS_DH_DSS_WITH_AES_256_CBC_SHA"
	case 0x0037:
		return "TLS_DH_RSA_WITH_AES_256_CBC_SHA"
	case 0x0038:
		return "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"
	case 0x0039:
		return "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"
	case 0x003A:
		return "TLS_DH_anon_WITH_AES_256_CBC_SHA"
	case 0x003B:
		return "TLS_RSA_WITH_NULL_SHA256"
	case 0x003C:
		return "TLS_RSA_WITH_AES_128_CBC_SHA256"
	case 0x003D:
		return "TLS_RSA_WITH_AES_256_CBC_SHA256"
	case 0x003E:
		return "TLS_DH_DSS_WITH_AES_128_CBC_SHA256"
	case 0x003F:
		return "TLS_DH_RSA_WITH_AES_128_CBC_SHA256"
	case 0x0040:
		return "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256"
	case 0x0041:
		return "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"
	case 0x0042:
		return "TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA"
	case 0x0043:
		return "TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA"
	case 0x0044:
		return "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA"
	case 0x0045:
		return "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"
	case 0x0046:
		return "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA"
	case 0x0067:
		return "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"
	case 0x0068:
		return "TLS_DH_DSS_WITH_AES_256_CBC_SHA256"
	case 0x0069:
		return "TLS_DH_RSA_WITH_AES_256_CBC_SHA256"
	case 0x006A:
		return "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256"
	case 0x006B:
		return "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"
	case 0x006C:
		return "TLS_DH_anon_WITH_AES_128_CBC_SHA256"
	case 0x006D:
		return "TLS_DH_anon_WITH_AES_256_CBC_SHA256"
	case 0x0084:
		return "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"
	case 0x0085:
		return "TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA"
	case 0x0086:
		return "TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA"
	case 0x0087:
		return "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA"
	case 0x0088:
		return "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"
	case 0x0089:
		return "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA"
	case 0x008A:
		return "TLS_PSK_WITH_RC4_128_SHA"
	case 0x008B:
		return "TLS_PSK_WITH_3DES_EDE_CBC_SHA"
	case 0x008C:
		return "TLS_PSK_WITH_AES_128_CBC_SHA"
	case 0x008D:
		return "TLS_PSK_WITH_AES_256_CBC_SHA"
	case 0x008E:
		return "TLS_DHE_PSK_WITH_RC4_128_SHA"
	case 0x008F:
		return "TLS_DHE_PSK_WITH_3DES_EDE_CBC_SHA"
	case 0x0090:
		return "TLS_DHE_PSK_WITH_AES_128_CBC_SHA"
	case 0x0091:
		return "TLS_DHE_PSK_WITH_AES_256_CBC_SHA"
	case 0x0092:
		return "TLS_RSA_PSK_WITH_RC4_128_SHA"
	case 0x0093:
		return "TLS_RSA_PSK_WITH_3DES_EDE_CBC_SHA"
	case 0x0094:
		return "TLS_RSA_PSK_WITH_AES_128_CBC_SHA"
	case 0x0095:
		return "TLS_RSA_PSK_WITH_AES_256_CBC_SHA"
	case 0x0096:
		return "TLS_RSA_WITH_SEED_CBC_SHA"
	case 0x0097:
		return "TLS_DH_DSS_WITH_SEED_CBC_SHA"
	case 0x0098:
		return "TLS_DH_RSA_WITH_SEED_CBC_SHA"
	case 0x0099:
		return "TLS_DHE_DSS_WITH_SEED_CBC_SHA"
	case 0x009A:
		return "TLS_DHE_RSA_WITH_SEED_CBC_SHA"
	case 0x009B:
		return "TLS_DH_anon_WITH_SEED_CBC_SHA"
	case 0x009C:
		return "TLS_RSA_WITH_AES_128_GCM_SHA256"
	case 0x009D:
		return "TLS_RSA_WITH_AES_256_GCM_SHA384"
	case 0x009E:
		return "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"
	case 0x009F:
		return "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"
	case 0x00A0:
		return "TLS_DH_RSA_WITH_AES_128_GCM_SHA256"
	case 0x00A1:
		return "TLS_DH_RSA_WITH_AES_256_GCM_SHA384"
	case 0x00A2:
		return "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256"
	case 0x00A3:
		return "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384"
	case 0x00A4:
		return "TLS_DH_DSS_WITH_AES_128_GCM_SHA256"
	case 0x00A5:
		return "TLS_DH_DSS_WITH_AES_256_GCM_SHA384"
	case 0x00A6:
		return "TLS_DH_anon_WITH_AES_128_GCM_SHA256"
	case 0x00A7:
		return "TLS_DH_anon_WITH_AES_256_GCM_SHA384"
	case 0x00A8:
		return "TLS_PSK_WITH_AES_128_GCM_SHA256"
	case 0x00A9:
		return "TLS_PSK_WITH_AES_256_GCM_SHA384"
	case 0x00AA:
		return "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256"
	case 0x00AB:
		return "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384"
	case 0x00AC:
		return "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256"
	case 0x00AD:
		return "TLS_RSA_PSK_WITH_AES_256_GCM_SHA384"
	case 0x00AE:
		return "TLS_PSK_WITH_AES_128_CBC_SHA256"
	case 0x00AF:
		return "TLS_PSK_WITH_AES_256_CBC_SHA384"
	case 0x00B0:
		return "TLS_PSK_WITH_NULL_SHA256"
	case 0x00B1:
		return "TLS_PSK_WITH_NULL_SHA384"
	case 0x00B2:
		return "TLS_DHE_PSK_WITH_AES_128_CBC_SHA256"
	case 0x00B3:
		return "TLS_DHE_PSK_WITH_AES_256_CBC_SHA384"
	case 0x00B4:
		return "TLS_DHE_PSK_WITH_NULL_SHA256"
	case 0x00B5:
		return "TLS_DHE_PSK_WITH_NULL_SHA384"
	case 0x00B6:
		return "TLS_RSA_PSK_WITH_AES_128_CBC_SHA256"
	case 0x00B7:
		return "TLS_RSA_PSK_WITH_AES_256_CBC_SHA384"
	case 0x00B8:
		return "TLS_RSA_PSK_WITH_NULL_SHA256"
	case 0x00B9:
		return "TLS_RSA_PSK_WITH_NULL_SHA384"
	case 0x00FF:
		return "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"
	case 0x1301:
		return "TLS_AES_128_GCM_SHA256"
	case 0x1302:
		return "TLS_AES_256_GCM_SHA384"
	case 0x1303:
		return "TLS_CHACHA20_POLY1305_SHA256"
	case 0x1304:
		return "TLS_AES_128_CCM_SHA256"
	case 0x1305:
		return "TLS_AES_128_CCM_8_SHA256"
	case 0x5600:
		return "TLS_FALLBACK_SCSV"
	case 0xC001:
		return "TLS_ECDH_ECDSA_WITH_NULL_SHA"
	case 0xC002:
		return "TLS_ECDH_ECDSA_WITH_RC4_128_SHA"
	case 0xC003:
		return "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA"
	case 0xC004:
		return "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA"
	case 0xC005:
		return "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA"
	case 0xC006:
		return "TLS_ECDHE_ECDSA_WITH_NULL_SHA"
	case 0xC007:
		return "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"
	case 0xC008:
		return "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"
	case 0xC009:
		return "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"
	case 0xC00A:
		return "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"
	case 0xC00B:
		return "TLS_ECDH_RSA_WITH_NULL_SHA"
	case 0xC00C:
		return "TLS_ECDH_RSA_WITH_RC4_128_SHA"
	case 0xC00D:
		return "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA"
	case 0xC00E:
		return "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA"
	case 0xC00F:
		return "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA"
	case 0xC010:
		return "TLS_ECDHE_RSA_WITH_NULL_SHA"
	case 0xC011:
		return "TLS_ECDHE_RSA_WITH_RC4_128_SHA"
	case 0xC012:
		return "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"
	case 0xC013:
		return "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
	case 0xC014:
		return "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"
	case 0xC015:
		return "TLS_ECDH_anon_WITH_NULL_SHA"
	case 0xC016:
		return "TLS_ECDH_anon_WITH_RC4_128_SHA"
	case 0xC017:
		return "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA"
	case 0xC018:
		return "TLS_ECDH_anon_WITH_AES_128_CBC_SHA"
	case 0xC019:
		return "TLS_ECDH_anon_WITH_AES_256_CBC_SHA"
	case 0xC01A:
		return "TLS_SRP_SHA_WITH_3DES_EDE_CBC_SHA"
	case 0xC01B:
		return "TLS_SRP_SHA_RSA_WITH_3DES_EDE_CBC_SHA"
	case 0xC01C:
		return "TLS_SRP_SHA_DSS_WITH_3DES_EDE_CBC_SHA"
	case 0xC01D:
		return "TLS_SRP_SHA_WITH_AES_128_CBC_SHA"
	case 0xC01E:
		return "TLS_SRP_SHA_RSA_WITH_AES_128_CBC_SHA"
	case 0xC01F:
		return "TLS_SRP_SHA_DSS_WITH_AES_128_CBC_SHA"
	case 0xC020:
		return "TLS_SRP_SHA_WITH_AES_256_CBC_SHA"
	case 0xC021:
		return "TLS_SRP_SHA_RSA_WITH_AES_256_CBC_SHA"
	case 0xC022:
		return "TLS_SRP_SHA_DSS_WITH_AES_256_CBC_SHA"
	case 0xC023:
		return "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"
	case 0xC024:
		return "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"
	case 0xC025:
		return "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256"
	case 0xC026:
		return "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384"
	case 0xC027:
		return "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"
	case 0xC028:
		return "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"
	case 0xC029:
		return "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256"
	case 0xC02A:
		return "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384"
	case 0xC02B:
		return "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
	case 0xC02C:
		return "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
	case 0xC02D:
		return "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256"
	case 0xC02E:
		return "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384"
	case 0xC02F:
		return "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
	case 0xC030:
		return "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
	case 0xC031:
		return "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256"
	case 0xC032:
		return "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384"
	case 0xC033:
		return "TLS_ECDHE_PSK_WITH_RC4_128_SHA"
	case 0xC034:
		return "TLS_ECDHE_PSK_WITH_3DES_EDE_CBC_SHA"
	case 0xC035:
		return "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA"
	case 0xC036:
		return "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA"
	case 0xC037:
		return "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256"
	case 0xC038:
		return "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384"
	case 0xC039:
		return "TLS_ECDHE_PSK_WITH_NULL_SHA"
	case 0xC03A:
		return "TLS_ECDHE_PSK_WITH_NULL_SHA256"
	case 0xC03B:
		return "TLS_ECDHE_PSK_WITH_NULL_SHA384"
	case 0xC09C:
		return "TLS_RSA_WITH_AES_128_CCM"
	case 0xC09D:
		return "TLS_RSA_WITH_AES_256_CCM"
	case 0xC09E:
		return "TLS_DHE_RSA_WITH_AES_128_CCM"
	case 0xC09F:
		return "TLS_DHE_RSA_WITH_AES_256_CCM"
	case 0xC0A0:
		return "TLS_RSA_WITH_AES_128_CCM_8"
	case 0xC0A1:
		return "TLS_RSA_WITH_AES_256_CCM_8"
	case 0xC0A2:
		return "TLS_DHE_RSA_WITH_AES_128_CCM_8"
	case 0xC0A3:
		return "TLS_DHE_RSA_WITH_AES_256_CCM_8"
	case 0xC0AC:
		return "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"
	case 0xC0AD:
		return "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"
	case 0xC0AE:
		return "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8"
	case 0xC0AF:
		return "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8"
	case 0xCCA8:
		return "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
	case 0xCCA9:
		return "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
	case 0xCCAA:
		return "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
	case 0xCCAB:
		return "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256"
	case 0xCCAC:
		return "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256"
	case 0xCCAD:
		return "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256"
	case 0xCCAE:
		return "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256"
	// Camellia with SHA-256 (RFC 5932).
	case 0x00BA:
		return "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256"
	case 0x00BB:
		return "TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA256"
	case 0x00BC:
		return "TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA256"
	case 0x00BD:
		return "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA256"
	case 0x00BE:
		return "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"
	case 0x00BF:
		return "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256"
	case 0x00C0:
		return "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256"
	case 0x00C1:
		return "TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA256"
	case 0x00C2:
		return "TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA256"
	case 0x00C3:
		return "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA256"
	case 0x00C4:
		return "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256"
	case 0x00C5:
		return "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256"
	// SM4 for TLS 1.3 (RFC 8998).
	case 0x00C6:
		return "TLS_SM4_GCM_SM3"
	case 0x00C7:
		return "TLS_SM4_CCM_SM3"
	// ARIA (RFC 6209).
	case 0xC03C:
		return "TLS_RSA_WITH_ARIA_128_CBC_SHA256"
	case 0xC03D:
		return "TLS_RSA_WITH_ARIA_256_CBC_SHA384"
	case 0xC03E:
		return "TLS_DH_DSS_WITH_ARIA_128_CBC_SHA256"
	case 0xC03F:
		return "TLS_DH_DSS_WITH_ARIA_256_CBC_SHA384"
	case 0xC040:
		return "TLS_DH_RSA_WITH_ARIA_128_CBC_SHA256"
	case 0xC041:
		return "TLS_DH_RSA_WITH_ARIA_256_CBC_SHA384"
	case 0xC042:
		return "TLS_DHE_DSS_WITH_ARIA_128_CBC_SHA256"
	case 0xC043:
		return "TLS_DHE_DSS_WITH_ARIA_256_CBC_SHA384"
	case 0xC044:
		return "TLS_DHE_RSA_WITH_ARIA_128_CBC_SHA256"
	case 0xC045:
		return "TLS_DHE_RSA_WITH_ARIA_256_CBC_SHA384"
	case 0xC046:
		return "TLS_DH_anon_WITH_ARIA_128_CBC_SHA256"
	case 0xC047:
		return "TLS_DH_anon_WITH_ARIA_256_CBC_SHA384"
	case 0xC048:
		return "TLS_ECDHE_ECDSA_WITH_ARIA_128_CBC_SHA256"
	case 0xC049:
		return "TLS_ECDHE_ECDSA_WITH_ARIA_256_CBC_SHA384"
	case 0xC04A:
		return "TLS_ECDH_ECDSA_WITH_ARIA_128_CBC_SHA256"
	case 0xC04B:
		return "TLS_ECDH_ECDSA_WITH_ARIA_256_CBC_SHA384"
	case 0xC04C:
		return "TLS_ECDHE_RSA_WITH_ARIA_128_CBC_SHA256"
	case 0xC04D:
		return "TLS_ECDHE_RSA_WITH_ARIA_256_CBC_SHA384"
	case 0xC04E:
		return "TLS_ECDH_RSA_WITH_ARIA_128_CBC_SHA256"
	case 0xC04F:
		return "TLS_ECDH_RSA_WITH_ARIA_256_CBC_SHA384"
	case 0xC050:
		return "TLS_RSA_WITH_ARIA_128_GCM_SHA256"
	case 0xC051:
		return "TLS_RSA_WITH_ARIA_256_GCM_SHA384"
	case 0xC052:
		return "TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256"
	case 0xC053:
		return "TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384"
	case 0xC054:
		return "TLS_DH_RSA_WITH_ARIA_128_GCM_SHA256"
	case 0xC055:
		return "TLS_DH_RSA_WITH_ARIA_256_GCM_SHA384"
	case 0xC056:
		return "TLS_DHE_DSS_WITH_ARIA_128_GCM_SHA256"
	case 0xC057:
		return "TLS_DHE_DSS_WITH_ARIA_256_GCM_SHA384"
	case 0xC058:
		return "TLS_DH_DSS_WITH_ARIA_128_GCM_SHA256"
	case 0xC059:
		return "TLS_DH_DSS_WITH_ARIA_256_GCM_SHA384"
	case 0xC05A:
		return "TLS_DH_anon_WITH_ARIA_128_GCM_SHA256"
	case 0xC05B:
		return "TLS_DH_anon_WITH_ARIA_256_GCM_SHA384"
	case 0xC05C:
		return "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256"
	case 0xC05D:
		return "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384"
	case 0xC05E:
		return "TLS_ECDH_ECDSA_WITH_ARIA_128_GCM_SHA256"
	case 0xC05F:
		return "TLS_ECDH_ECDSA_WITH_ARIA_256_GCM_SHA384"
	case 0xC060:
		return "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256"
	case 0xC061:
		return "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384"
	case 0xC062:
		return "TLS_ECDH_RSA_WITH_ARIA_128_GCM_SHA256"
	case 0xC063:
		return "TLS_ECDH_RSA_WITH_ARIA_256_GCM_SHA384"
	case 0xC064:
		return "TLS_PSK_WITH_ARIA_128_CBC_SHA256"
	case 0xC065:
		return "TLS_PSK_WITH_ARIA_256_CBC_SHA384"
	case 0xC066:
		return "TLS_DHE_PSK_WITH_ARIA_128_CBC_SHA256"
	case 0xC067:
		return "TLS_DHE_PSK_WITH_ARIA_256_CBC_SHA384"
	case 0xC068:
		return "TLS_RSA_PSK_WITH_ARIA_128_CBC_SHA256"
	case 0xC069:
		return "TLS_RSA_PSK_WITH_ARIA_256_CBC_SHA384"
	case 0xC06A:
		return "TLS_PSK_WITH_ARIA_128_GCM_SHA256"
	case 0xC06B:
		return "TLS_PSK_WITH_ARIA_256_GCM_SHA384"
	case 0xC06C:
		return "TLS_DHE_PSK_WITH_ARIA_128_GCM_SHA256"
	case 0xC06D:
		return "TLS_DHE_PSK_WITH_ARIA_256_GCM_SHA384"
	case 0xC06E:
		return "TLS_RSA_PSK_WITH_ARIA_128_GCM_SHA256"
	case 0xC06F:
		return "TLS_RSA_PSK_WITH_ARIA_256_GCM_SHA384"
	case 0xC070:
		return "TLS_ECDHE_PSK_WITH_ARIA_128_CBC_SHA256"
	case 0xC071:
		return "TLS_ECDHE_PSK_WITH_ARIA_256_CBC_SHA384"
	// Camellia with ECC, GCM and PSK (RFC 6367).
	case 0xC072:
		return "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256"
	case 0xC073:
		return "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384"
	case 0xC074:
		return "TLS_ECDH_ECDSA_WITH_CAMELLIA_128_CBC_SHA256"
	case 0xC075:
		return "TLS_ECDH_ECDSA_WITH_CAMELLIA_256_CBC_SHA384"
	case 0xC076:
		return "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"
	case 0xC077:
		return "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384"
	case 0xC078:
		return "TLS_ECDH_RSA_WITH_CAMELLIA_128_CBC_SHA256"
	case 0xC079:
		return "TLS_ECDH_RSA_WITH_CAMELLIA_256_CBC_SHA384"
	case 0xC07A:
		return "TLS_RSA_WITH_CAMELLIA_128_GCM_SHA256"
	case 0xC07B:
		return "TLS_RSA_WITH_CAMELLIA_256_GCM_SHA384"
	case 0xC07C:
		return "TLS_DHE_RSA_WITH_CAMELLIA_128_GCM_SHA256"
	case 0xC07D:
		return "TLS_DHE_RSA_WITH_CAMELLIA_256_GCM_SHA384"
	case 0xC07E:
		return "TLS_DH_RSA_WITH_CAMELLIA_128_GCM_SHA256"
	case 0xC07F:
		return "TLS_DH_RSA_WITH_CAMELLIA_256_GCM_SHA384"
	case 0xC080:
		return "TLS_DHE_DSS_WITH_CAMELLIA_128_GCM_SHA256"
	case 0xC081:
		return "TLS_DHE_DSS_WITH_CAMELLIA_256_GCM_SHA384"
	case 0xC082:
		return "TLS_DH_DSS_WITH_CAMELLIA_128_GCM_SHA256"
	case 0xC083:
		return "TLS_DH_DSS_WITH_CAMELLIA_256_GCM_SHA384"
	case 0xC084:
		return "TLS_DH_anon_WITH_CAMELLIA_128_GCM_SHA256"
	case 0xC085:
		return "TLS_DH_anon_WITH_CAMELLIA_256_GCM_SHA384"
	case 0xC086:
		return "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_GCM_SHA256"
	case 0xC087:
		return "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_GCM_SHA384"
	case 0xC088:
		return "TLS_ECDH_ECDSA_WITH_CAMELLIA_128_GCM_SHA256"
	case 0xC089:
		return "TLS_ECDH_ECDSA_WITH_CAMELLIA_256_GCM_SHA384"
	case 0xC08A:
		return "TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256"
	case 0xC08B:
		return "TLS_ECDHE_RSA_WITH_CAMELLIA_256_GCM_SHA384"
	case 0xC08C:
		return "TLS_ECDH_RSA_WITH_CAMELLIA_128_GCM_SHA256"
	case 0xC08D:
		return "TLS_ECDH_RSA_WITH_CAMELLIA_256_GCM_SHA384"
	case 0xC08E:
		return "TLS_PSK_WITH_CAMELLIA_128_GCM_SHA256"
	case 0xC08F:
		return "TLS_PSK_WITH_CAMELLIA_256_GCM_SHA384"
	case 0xC090:
		return "TLS_DHE_PSK_WITH_CAMELLIA_128_GCM_SHA256"
	case 0xC091:
		return "TLS_DHE_PSK_WITH_CAMELLIA_256_GCM_SHA384"
	case 0xC092:
		return "TLS_RSA_PSK_WITH_CAMELLIA_128_GCM_SHA256"
	case 0xC093:
		return "TLS_RSA_PSK_WITH_CAMELLIA_256_GCM_SHA384"
	case 0xC094:
		return "TLS_PSK_WITH_CAMELLIA_128_CBC_SHA256"
	case 0xC095:
		return "TLS_PSK_WITH_CAMELLIA_256_CBC_SHA384"
	case 0xC096:
		return "TLS_DHE_PSK_WITH_CAMELLIA_128_CBC_SHA256"
	case 0xC097:
		return "TLS_DHE_PSK_WITH_CAMELLIA_256_CBC_SHA384"
	case 0xC098:
		return "TLS_RSA_PSK_WITH_CAMELLIA_128_CBC_SHA256"
	case 0xC099:
		return "TLS_RSA_PSK_WITH_CAMELLIA_256_CBC_SHA384"
	case 0xC09A:
		return "TLS_ECDHE_PSK_WITH_CAMELLIA_128_CBC_SHA256"
	case 0xC09B:
		return "TLS_ECDHE_PSK_WITH_CAMELLIA_256_CBC_SHA384"
	// AES-CCM with PSK (RFC 6655).
	case 0xC0A4:
		return "TLS_PSK_WITH_AES_128_CCM"
	case 0xC0A5:
		return "TLS_PSK_WITH_AES_256_CCM"
	case 0xC0A6:
		return "TLS_DHE_PSK_WITH_AES_128_CCM"
	case 0xC0A7:
		return "TLS_DHE_PSK_WITH_AES_256_CCM"
	case 0xC0A8:
		return "TLS_PSK_WITH_AES_128_CCM_8"
	case 0xC0A9:
		return "TLS_PSK_WITH_AES_256_CCM_8"
	case 0xC0AA:
		return "TLS_PSK_DHE_WITH_AES_128_CCM_8"
	case 0xC0AB:
		return "TLS_PSK_DHE_WITH_AES_256_CCM_8"
	// Password-based key exchange, ECCPWD (RFC 8492).
	case 0xC0B0:
		return "TLS_ECCPWD_WITH_AES_128_GCM_SHA256"
	case 0xC0B1:
		return "TLS_ECCPWD_WITH_AES_256_GCM_SHA384"
	case 0xC0B2:
		return "TLS_ECCPWD_WITH_AES_128_CCM_SHA256"
	case 0xC0B3:
		return "TLS_ECCPWD_WITH_AES_256_CCM_SHA384"
	// GOST R 34.12-2015 (RFC 9189, RFC 9367): Kuznyechik has 128-bit
	// blocks; Magma, GOST 28147-89's successor, 64-bit ones and grades
	// weak as 0xC102 does.
	case 0xC100:
		return "TLS_GOSTR341112_256_WITH_KUZNYECHIK_CTR_OMAC"
	case 0xC101:
		return "TLS_GOSTR341112_256_WITH_MAGMA_CTR_OMAC"
	case 0xC103:
		return "TLS_GOSTR341112_256_WITH_KUZNYECHIK_MGM_L"
	case 0xC104:
		return "TLS_GOSTR341112_256_WITH_MAGMA_MGM_L"
	case 0xC105:
		return "TLS_GOSTR341112_256_WITH_KUZNYECHIK_MGM_S"
	case 0xC106:
		return "TLS_GOSTR341112_256_WITH_MAGMA_MGM_S"
	// AES-GCM and AES-CCM with ECDHE_PSK (RFC 8442); 0xD004 is
	// unassigned.
	case 0xD001:
		return "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256"
	case 0xD002:
		return "TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384"
	case 0xD003:
		return "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256"
	case 0xD005:
		return "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256"
	// Integrity only, no encryption (RFC 9150, for IoT and industrial
	// use).
	case 0xC0B4:
		return "TLS_SHA256_SHA256"
	case 0xC0B5:
		return "TLS_SHA384_SHA384"
	// Not in the IANA registry: the 56-bit export suites of
	// draft-ietf-tls-56-bit-ciphersuites, under OpenSSL's names, which
	// old OpenSSL builds still offer.
	case 0x0060:
		return "TLS_RSA_EXPORT1024_WITH_RC4_56_MD5"
	case 0x0061:
		return "TLS_RSA_EXPORT1024_WITH_RC2_CBC_56_MD5"
	case 0x0062:
		return "TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA"
	case 0x0063:
		return "TLS_DHE_DSS_EXPORT1024_WITH_DES_CBC_SHA"
	case 0x0064:
		return "TLS_RSA_EXPORT1024_WITH_RC4_56_SHA"
	case 0x0065:
		return "TLS_DHE_DSS_EXPORT1024_WITH_RC4_56_SHA"
	case 0x0066:
		return "TLS_DHE_DSS_WITH_RC4_128_SHA"
	// Not in the IANA registry: SSL 3.0's FORTEZZA suites (RFC 6101
	// appendix A.6; 0x001E was later given to Kerberos) and Netscape's
	// FIPS DES and 3DES suites, under the names of NSS's sslproto.h,
	// which still defines them.
	case 0x001C:
		return "SSL_FORTEZZA_DMS_WITH_NULL_SHA"
	case 0x001D:
		return "SSL_FORTEZZA_DMS_WITH_FORTEZZA_CBC_SHA"
	case 0xFEFE:
		return "SSL_RSA_FIPS_WITH_DES_CBC_SHA"
	case 0xFEFF:
		return "SSL_RSA_FIPS_WITH_3DES_EDE_CBC_SHA"
	case 0xFFE0:
		return "SSL_RSA_OLDFIPS_WITH_3DES_EDE_CBC_SHA"
	case 0xFFE1:
		return "SSL_RSA_OLDFIPS_WITH_DES_CBC_SHA"
	// Not in the IANA registry: the GOST 28147-89 suites of
	// draft-chudov-cryptopro-cptls-04, under OpenSSL's names.
	case 0x0080:
		return "TLS_GOSTR341094_WITH_28147_CNT_IMIT"
	case 0x0081:
		return "TLS_GOSTR341001_WITH_28147_CNT_IMIT"
	case 0x0082:
		return "TLS_GOSTR341094_WITH_NULL_GOSTR3411"
	case 0x0083:
		return "TLS_GOSTR341001_WITH_NULL_GOSTR3411"
	// GOST 28147-89 under 2012 keys (RFC 9189), in the registry.
	case 0xC102:
		return "TLS_GOSTR341112_256_WITH_28147_CNT_IMIT"
	}
	return ""
}

// cipherName names a suite for events: its IANA name, else its id in hex.
func cipherName(id uint16) string {
	if n := cipherSuiteName(id); n != "" {
		return n
	}
	return hex16(id)
}

// strength grades a cipher suite for the weak_tls finding.
type strength uint8

// The order matters: a client's best offer is the least of its suites'
// grades, and a weakness the worst of what it is blamed for.
const (
	strong strength = iota // in the table, nothing known against it
	// unlisted: not in the table, so nothing is known of it: neither
	// blamed (it may be newer than the table) nor credited as strong
	// (it may be a private, broken one).
	unlisted
	weak      // broken but still encrypting: RC4, DES, 3DES, IDEA, GOST 28147 and Magma, FORTEZZA, MD5 MAC
	insecure  // no real protection: NULL, EXPORT, anonymous key exchange, integrity only
	signaling // not a cipher: SCSV values
)

// suiteStrength grades a suite by the parts of its name, so the grading
// follows the table: anonymous key exchange (anon), no encryption
// (NULL), export-grade keys (EXPORT) are insecure; RC4, single DES and
// the 64-bit block ciphers (3DES, IDEA, GOST 28147-89 and Magma,
// FORTEZZA's Skipjack: Sweet32), and the MD5 MAC are weak.
func suiteStrength(id uint16) strength { return strengthTable()[id] }

// strengthTable classifies every suite id once: a ClientHello offers
// dozens of suites, and classifying by name means string searches.
var strengthTable = sync.OnceValue(func() *[1 << 16]strength {
	var t [1 << 16]strength
	for id := range t {
		t[id] = classifySuite(uint16(id))
	}
	return &t
})

func classifySuite(id uint16) strength {
	name := cipherSuiteName(id)
	switch {
	case name == "":
		return unlisted
	case strings.HasSuffix(name, "_SCSV"):
		return signaling
	case strings.Contains(name, "_anon_"), strings.Contains(name, "NULL"), strings.Contains(name, "EXPORT"),
		name == "TLS_SHA256_SHA256", name == "TLS_SHA384_SHA384":
		return insecure
	case strings.Contains(name, "_RC4_"), strings.Contains(name, "_DES_"), strings.Contains(name, "DES40"),
		strings.Contains(name, "3DES"), strings.Contains(name, "_IDEA_"), strings.HasSuffix(name, "_MD5"),
		strings.Contains(name, "_28147_"), strings.Contains(name, "_MAGMA_"), strings.Contains(name, "_FORTEZZA_CBC_"):
		// IDEA has 64-bit blocks, as 3DES (RFC 5469 removed it from TLS
		// 1.2), GOST 28147-89 and its successor Magma, and Skipjack.
		return weak
	}
	return strong
}

// TLS protocol versions as they appear on the wire.
const (
	versionSSL2  = 0x0002
	versionSSL3  = 0x0300
	versionTLS10 = 0x0301
	versionTLS11 = 0x0302
	versionTLS12 = 0x0303
	versionTLS13 = 0x0304
)

// versionName names a protocol version; TLS 1.3 drafts (0x7fNN) carry
// their draft number.
func versionName(v uint16) string {
	switch v {
	case versionSSL2:
		return "SSL 2.0"
	case versionSSL3:
		return "SSL 3.0"
	case versionTLS10:
		return "TLS 1.0"
	case versionTLS11:
		return "TLS 1.1"
	case versionTLS12:
		return "TLS 1.2"
	case versionTLS13:
		return "TLS 1.3"
	}
	if v>>8 == 0x7f {
		return "TLS 1.3 draft " + strconv.Itoa(int(v&0xff))
	}
	return hex16(v)
}

// versionStrength grades a negotiated version: SSL is insecure, TLS 1.0
// and 1.1 are weak (deprecated by RFC 8996), anything newer is strong.
func versionStrength(v uint16) strength {
	switch v {
	case versionSSL2, versionSSL3:
		return insecure
	case versionTLS10, versionTLS11:
		return weak
	}
	return strong
}

// isGREASE reports the RFC 8701 reserved values (0x0a0a, 0x1a1a, ...,
// 0xfafa) that clients send to keep servers tolerant.
func isGREASE(v uint16) bool {
	return v&0x0f0f == 0x0a0a && v>>8 == v&0xff
}

const hexDigits = "0123456789abcdef"

// hex16 formats v as "0x" and four lower-case hex digits.
func hex16(v uint16) string {
	b := [6]byte{'0', 'x', hexDigits[v>>12], hexDigits[v>>8&0xf], hexDigits[v>>4&0xf], hexDigits[v&0xf]}
	return string(b[:])
}
