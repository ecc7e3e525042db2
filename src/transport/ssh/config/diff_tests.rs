//! Differential test against OpenSSH: generated configurations resolved by rpatch and by
//! `ssh -G` (which resolves without connecting) must agree.
