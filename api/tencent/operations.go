package tencent

// actions maps X-TC-Action to its handler.
var actions = map[string]action{
	"CreateKey":           op(createKey),
	"DescribeKey":         op(describeKey),
	"ListKeys":            op(listKeys),
	"EnableKey":           op(enableKey),
	"DisableKey":          op(disableKey),
	"ScheduleKeyDeletion": op(scheduleKeyDeletion),
	"CancelKeyDeletion":   op(cancelKeyDeletion),
	"Encrypt":             op(encrypt),
	"Decrypt":             op(decrypt),
	"GenerateDataKey":     op(generateDataKey),
	"GenerateRandom":      op(generateRandom),
	"GetPublicKey":        op(getPublicKey),
}
