// Package e2e runs the README's quick starts with the real binaries:
// attestsim makes a CA, attestkms serve trusts it, enclavetool gets secrets.
package e2e
