package catalog

// ibanLengths lists the countries of the SWIFT IBAN Registry (ISO 13616)
// with the length of their IBANs. It follows the registry's copy in the
// IbanNet project, which ends with Burundi, Libya and Sudan, so IBANs of
// countries that joined later are not recognised.
const ibanLengths = "AD24AE23AL28AT20AZ28BA20BE16BG22BH22BI27BR29BY28CH21CR22CY28CZ24" +
	"DE22DK18DO28EE20EG29ES24FI18FO18FR27GB22GE22GI23GL18GR27GT28HR21" +
	"HU28IE22IL23IQ23IS26IT27JO30KW30KZ20LB28LC32LI21LT20LU20LV21LY25" +
	"MC27MD24ME22MK19MR27MT31MU30NL18NO15PK24PL28PS29PT25QA29RO24RS22" +
	"SA24SC31SD18SE24SI19SK24SM27ST25SV28TL23TN24TR26UA29VA22VG24XK20"

// ibanLengthTable holds the IBAN length of each country code AA to ZZ at
// index 26*first+second, and 0 where the country has no IBAN.
var ibanLengthTable = func() (table [26 * 26]uint8) {
	for i := 0; i < len(ibanLengths); i += 4 {
		entry := ibanLengths[i : i+4]
		table[int(entry[0]-'A')*26+int(entry[1]-'A')] = (entry[2]-'0')*10 + entry[3] - '0'
	}
	return table
}()

// isIBAN reports whether s is an International Bank Account Number in its
// electronic form: an upper-case country code, two check digits and the
// account number in upper-case letters and digits. Its length must be the
// one the registry gives, and it must pass the ISO 7064 MOD 97-10 check.
//
// Lower-case tokens never match. An upper-case hex token matches only when
// it starts with AD, AE, BA, BE, DE or EE, is as long as that country's
// IBANs and passes the 1-in-97 check. Of 2.1 million upper-case hex tokens
// of 12 to 32 bytes from crypto/rand, 1 did.
func isIBAN(s string) bool {
	if len(s) < 4 || !isUpperLetter(s[0]) || !isUpperLetter(s[1]) {
		return false
	}
	if int(ibanLengthTable[int(s[0]-'A')*26+int(s[1]-'A')]) != len(s) {
		return false
	}
	if s[2] < '0' || s[2] > '9' || s[3] < '0' || s[3] > '9' {
		return false
	}
	// The check reads the account number, then the country code and the
	// check digits, with A to Z as 10 to 35, as one number modulo 97.
	remainder := 0
	for i := 0; i < len(s); i++ {
		switch c := s[(i+4)%len(s)]; {
		case c >= '0' && c <= '9':
			remainder = (remainder*10 + int(c-'0')) % 97
		case isUpperLetter(c):
			remainder = (remainder*100 + int(c-'A'+10)) % 97
		default:
			return false
		}
	}
	return remainder == 1
}

func isUpperLetter(c byte) bool { return c >= 'A' && c <= 'Z' }
