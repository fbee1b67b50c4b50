@image-path
Feature: Images must come from the production repository
  The seed's first sample policy, reject-failed-and-non-gcr (fixtures/policies/), rejects an
  image outside gcr.io/company/production-repository/ (rule index 0), allows an image inside it
  whose scan is Pass or Warn (rule index 1), and rejects everything else (rule index 2).
  The path is a regular expression matched against the image's normalised reference
  (nginx:1.27 is docker.io/library/nginx:1.27), anchored here with ^.

  Background:
    Given the image-assurance webhook is installed for namespaces labelled "apply-container-policies=true"
    And a namespace labelled "apply-container-policies=true"
    And the policy "reject-failed-and-non-gcr" from the fixtures

  Scenario Outline: <image> scanned <status> is <outcome>
    Given these scan results:
      | image   | status   | scanned   |
      | <image> | <status> | 1 day ago |
    When I create a Deployment "web" with image "<image>"
    Then it is <outcome>

    Examples: inside the production repository, the scan decides
      | image                                             | status | outcome                                                     |
      | gcr.io/company/production-repository/api:1.2      | Pass   | admitted                                                    |
      | gcr.io/company/production-repository/api:1.2      | Warn   | admitted                                                    |
      | gcr.io/company/production-repository/api:1.2      | Fail   | rejected by policy "reject-failed-and-non-gcr" rule index 2 |
      | gcr.io/company/production-repository/team/web:3.1 | Pass   | admitted                                                    |

    Examples: outside it, the path decides whatever the scan says
      | image                                                         | status | outcome                                                     |
      | nginx:1.27                                                    | Pass   | rejected by policy "reject-failed-and-non-gcr" rule index 0 |
      | docker.io/library/nginx:1.27                                  | Pass   | rejected by policy "reject-failed-and-non-gcr" rule index 0 |
      | gcr.io/company/staging-repository/api:1.2                     | Pass   | rejected by policy "reject-failed-and-non-gcr" rule index 0 |
      | gcr.io/other/company/production-repository/api:1.2            | Pass   | rejected by policy "reject-failed-and-non-gcr" rule index 0 |
      | registry.example.com/gcr.io/company/production-repository/a:1 | Pass   | rejected by policy "reject-failed-and-non-gcr" rule index 0 |

  Scenario: An image inside the repository that was never scanned is rejected by the last rule
    When I create a Deployment "web" with image "gcr.io/company/production-repository/api:9.9"
    Then it is rejected with:
      """
      admission webhook "image-assurance.tigera.io" denied the request: image "gcr.io/company/production-repository/api:9.9" (container "web"): Action 'Reject' enforced by ContainerPolicy reject-failed-and-non-gcr rule index 2
      """

  Scenario: Every rejected image of a workload is named in the message
    Given these scan results:
      | image                                        | status | scanned   |
      | gcr.io/company/production-repository/api:1.2 | Pass   | 1 day ago |
      | gcr.io/company/production-repository/db:4.0  | Fail   | 1 day ago |
    When I create a Deployment "shop" with these containers:
      | type      | name   | image                                        |
      | container | api    | gcr.io/company/production-repository/api:1.2 |
      | container | db     | gcr.io/company/production-repository/db:4.0  |
      | container | proxy  | nginx:1.27                                   |
    Then it is rejected with:
      """
      admission webhook "image-assurance.tigera.io" denied the request: image "gcr.io/company/production-repository/db:4.0" (container "db"): Action 'Reject' enforced by ContainerPolicy reject-failed-and-non-gcr rule index 2; image "nginx:1.27" (container "proxy"): Action 'Reject' enforced by ContainerPolicy reject-failed-and-non-gcr rule index 0
      """
