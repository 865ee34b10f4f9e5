package tencent

// actions maps X-TC-Action to its handler. The state-changing ones have
// single-use signatures (see the package doc).
var actions = map[string]action{
	"CreateKey":           {op(createKey), true},
	"DescribeKey":         {op(describeKey), false},
	"ListKeys":            {op(listKeys), false},
	"EnableKey":           {op(enableKey), true},
	"DisableKey":          {op(disableKey), true},
	"ScheduleKeyDeletion": {op(scheduleKeyDeletion), true},
	"CancelKeyDeletion":   {op(cancelKeyDeletion), true},
	"Encrypt":             {op(encrypt), false},
	"Decrypt":             {op(decrypt), false},
	"GenerateDataKey":     {op(generateDataKey), false},
	"GenerateRandom":      {op(generateRandom), false},
	"GetPublicKey":        {op(getPublicKey), false},
}
