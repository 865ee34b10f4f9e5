package huawei

// operation is one of the dialect's operations. recipient says whether it
// takes a recipient member; the others refuse one (op, on the decoded
// request) rather than answer in plaintext a caller who asked for a wrapped
// secret.
type operation struct {
	fn        opFunc
	recipient bool
}

// operations maps the path's last segment to its handler, as
// huaweicloud-sdk-go-v3's services/kms/v2 (kms_meta.go) names them.
var operations = map[string]operation{
	"create-key":                       {fn: op(createKey)},
	"describe-key":                     {fn: op(describeKey)},
	"list-keys":                        {fn: op(listKeys)},
	"enable-key":                       {fn: op(enableKey)},
	"disable-key":                      {fn: op(disableKey)},
	"schedule-key-deletion":            {fn: op(scheduleKeyDeletion)},
	"cancel-key-deletion":              {fn: op(cancelKeyDeletion)},
	"create-datakey":                   {fn: op(createDatakey), recipient: true},
	"create-datakey-without-plaintext": {fn: op(createDatakeyWithoutPlaintext)},
	"encrypt-datakey":                  {fn: op(encryptDatakey)},
	"decrypt-datakey":                  {fn: op(decryptDatakey), recipient: true},
	"encrypt-data":                     {fn: op(encryptData)},
	"decrypt-data":                     {fn: op(decryptData)},
	"gen-random":                       {fn: op(genRandom), recipient: true},
	"get-publickey":                    {fn: op(getPublicKey)},
	"derive-shared-secret":             {fn: op(deriveSharedSecret), recipient: true},
	"create-ec-datakey-pair":           {fn: op(createDatakeyPair), recipient: true},
	"create-rsa-datakey-pair":          {fn: op(createDatakeyPair), recipient: true},
}
