package aws

// ErrorTable is the AWS dialect's table from kinds to exceptions and HTTP
// statuses (errors.go): the admin API's too (NewJSON11).
var ErrorTable = errorTable
