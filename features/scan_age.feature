@scan-age
Feature: Images must have been scanned recently
  imageLastScan compares the time of an image's last scan with a window back from now
  (`gt` = scanned within it, `lt` = scanned before it) or with an absolute time. Months and
  years are calendar months and years, subtracted in UTC. An image never scanned matches no
  imageLastScan criterion.

  Background:
    Given the image-assurance webhook is installed for namespaces labelled "apply-container-policies=true"
    And a namespace labelled "apply-container-policies=true"

  Rule: The seed's second sample policy rejects images not scanned in the last 3 days

    Background:
      Given the policy "reject-outdated-scans" from the fixtures

    Scenario Outline: A labelled workload whose image was scanned <scanned> is <outcome>
      Given these scan results:
        | image                                        | status | scanned   |
        | gcr.io/company/production-repository/web:2.0 | Pass   | <scanned> |
      When I create a Job "export" labelled "reject-policy=reject-outdated-scans" with image "gcr.io/company/production-repository/web:2.0"
      Then it is <outcome>

      Examples:
        | scanned     | outcome                                                 |
        | 2 hours ago | admitted                                                |
        | 2 days ago  | admitted                                                |
        | 4 days ago  | rejected by policy "reject-outdated-scans" rule index 1 |
        | 1 year ago  | rejected by policy "reject-outdated-scans" rule index 1 |

    Scenario: A labelled workload whose image was never scanned is rejected
      When I create a Job "export" labelled "reject-policy=reject-outdated-scans" with image "gcr.io/company/production-repository/web:2.0"
      Then it is rejected by policy "reject-outdated-scans" rule index 1

    Scenario: A workload without the policy's label is not subject to it
      Given these scan results:
        | image                                        | status | scanned     |
        | gcr.io/company/production-repository/web:2.0 | Pass   | 10 days ago |
      When I create a Job "export" with image "gcr.io/company/production-repository/web:2.0"
      Then it is admitted

  Rule: An absolute time, written as in Calico's own example

    Background:
      Given the policy:
        """
        apiVersion: containersecurity.tigera.io/v1beta1
        kind: ContainerAdmissionPolicy
        metadata:
          name: scanned-since-2022
        spec:
          rules:
            - action: Allow
              imageLastScan: {operator: gt, time: "2022-01-02T0:00:00Z"}
            - action: Reject
        """

    Scenario Outline: An image scanned at <scanned> is <outcome>
      Given these scan results:
        | image                      | status | scanned   |
        | registry.example.com/a:1.0 | Pass   | <scanned> |
      When I create a Pod "a" with image "registry.example.com/a:1.0"
      Then it is <outcome>

      Examples:
        | scanned              | outcome                                              |
        | 2022-03-01T00:00:00Z | admitted                                             |
        | 2021-12-01T00:00:00Z | rejected by policy "scanned-since-2022" rule index 1 |

  Rule: Months and years

    Background:
      Given these policies:
        """
        apiVersion: containersecurity.tigera.io/v1beta1
        kind: ContainerAdmissionPolicy
        metadata:
          name: older-than-two-months
        spec:
          order: 1
          selector: "window == 'months'"
          rules:
            - action: Reject
              imageLastScan: {operator: lt, duration: {months: 2}}
        ---
        apiVersion: containersecurity.tigera.io/v1beta1
        kind: ContainerAdmissionPolicy
        metadata:
          name: older-than-a-year
        spec:
          order: 2
          selector: "window == 'years'"
          rules:
            - action: Reject
              imageLastScan: {operator: lt, duration: {years: 1}}
        """

    Scenario Outline: With a <window> window, an image scanned <scanned> is <outcome>
      Given these scan results:
        | image                      | status | scanned   |
        | registry.example.com/b:1.0 | Pass   | <scanned> |
      When I create a Deployment "b" labelled "window=<window>" with image "registry.example.com/b:1.0"
      Then it is <outcome>

      Examples:
        | window | scanned        | outcome                                                 |
        | months | 1 month ago    | admitted                                                |
        | months | 3 months ago   | rejected by policy "older-than-two-months" rule index 0 |
        | years  | 11 months ago  | admitted                                                |
        | years  | 2 years ago    | rejected by policy "older-than-a-year" rule index 0     |
