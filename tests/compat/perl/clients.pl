#!/usr/bin/perl
# The Perl clients of the compatibility matrix, Debian's packages unmodified:
# Redis (libredis-perl) and Redis::Fast (libredis-fast-perl), which share one
# API. Run by tests/compat/matrix.py against lockerd and against redis-server:
#
#   perl clients.pl features <Redis|Redis::Fast> <host:port>
#     one JSON line per feature: {"client", "feature", "ok", "detail"}; a
#     failed feature also says how many of its keys were left held ("held").
#   perl clients.pl contend <Redis|Redis::Fast> <host:port> <seconds> <marker-file>
#     takes and releases the lock "compat:contend:<library>" in a loop; while holding
#     it, owns <marker-file> (created with O_EXCL). Prints one JSON line:
#     {"acquired": n, "violations": n} (and "error" when a call failed).
use strict;
use warnings;
use Fcntl qw(O_CREAT O_EXCL O_WRONLY);
use JSON::PP;
use Time::HiRes qw(time sleep);

my ($mode, $library, $endpoint, $seconds, $marker) = @ARGV;
eval "require $library; 1" or die $@;
my $RELEASE = 'if redis.call("get",KEYS[1]) == ARGV[1] then return redis.call("del",KEYS[1]) else return 0 end';
my $json = JSON::PP->new->canonical;

sub connect_client { return $library->new(server => $endpoint, reconnect => 0) }

sub expect {
    my ($condition, $what) = @_;
    die "$what\n" unless $condition;
}

# Runs one feature and prints its row; $keys are those it may leave held.
sub check {
    my ($feature, $keys, $body) = @_;
    my $row = {client => $library, feature => $feature, ok => JSON::PP::true, detail => ''};
    my $detail = eval { $body->() };
    if (my $error = $@) {
        chomp $error;
        $row->{ok} = JSON::PP::false;
        $row->{detail} = $error;
        $row->{held} = @$keys ? connect_client()->exists(@$keys) + 0 : 0;
    } elsif (defined $detail) {
        $row->{detail} = "$detail";
    }
    print $json->encode($row), "\n";
}

sub features {
    my $redis = connect_client();
    my $key = "compat:perl:$$";
    check('PING, SET NX PX, GET, DEL', [$key], sub {
        expect($redis->ping eq 'PONG', 'PING');
        expect(($redis->set($key, 'me', 'NX', 'PX', 5000) // '') eq 'OK', 'SET NX refused');
        expect(!defined $redis->set($key, 'me', 'NX', 'PX', 5000), 'a second SET NX with the same value succeeded');
        expect($redis->get($key) eq 'me', 'GET');
        expect($redis->del($key) == 1, 'DEL');
        return;
    });
    check('EVAL and EVALSHA of a release script', [$key], sub {
        $redis->set($key, 'me', 'NX', 'PX', 5000);
        my $sha = $redis->script_load($RELEASE);
        expect($redis->evalsha($sha, 1, $key, 'other') == 0, 'released by a stranger');
        expect($redis->eval($RELEASE, 1, $key, 'me') == 1, 'not released by the owner');
        return;
    });
    check('pipelining (callbacks, wait_all_responses)', ["$key:0", "$key:1"], sub {
        my @replies;
        my $collect = sub { push @replies, $_[1] // $_[0] };
        $redis->set("$key:$_", 'me', 'NX', 'PX', 5000, $collect) for 0, 1;
        $redis->del("$key:0", "$key:1", $collect);
        $redis->wait_all_responses;
        expect("@replies" eq 'OK OK 2', "replies @replies");
        return;
    });
    check('MULTI/EXEC', ["$key:tx"], sub {
        my $tx = connect_client();  # Its own connection: a refused MULTI leaves none behind.
        $tx->multi;
        $tx->set("$key:tx", 'me', 'NX', 'PX', 5000);
        $tx->pttl("$key:tx");
        my @replies = $tx->exec;
        $tx->del("$key:tx");
        expect($replies[0] eq 'OK', "EXEC replies @replies");
        return;
    });
}

sub contend {
    my $redis = connect_client();
    my $name = "compat:contend:$library";
    my ($acquired, $violations, %out) = (0, 0);
    my $end = time + $seconds;
    eval {
        while (time < $end) {
            if (!defined $redis->set($name, $$, 'NX', 'PX', 3000)) {
                sleep 0.002;
                next;
            }
            $acquired++;
            if (sysopen(my $file, $marker, O_CREAT | O_EXCL | O_WRONLY)) {
                close $file;
            } else {
                $violations++;  # Someone else is inside.
            }
            sleep 0.002;
            unlink $marker;
            my $released = $redis->eval($RELEASE, 1, $name, $$);
            die "the release script answered $released for a lock this process held\n" unless $released == 1;
        }
        1;
    } or do { chomp($out{error} = $@) };
    print $json->encode({acquired => $acquired, violations => $violations, %out}), "\n";
}

$mode eq 'contend' ? contend() : features();
